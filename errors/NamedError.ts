/**
 * The base of our error classes: its name is the subclass's own (new.target), so a log line,
 * `error.name` checks and errors serialized across worker threads say which error it was without
 * each class repeating `this.name = '...'` in a constructor of its own.
 *
 * @example
 *   export class FilterRuleError extends NamedError {}
 *   new FilterRuleError('bad rule').name; // 'FilterRuleError'
 */
export class NamedError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

import { CliError } from '../../bin/commands/cli-support.js';
import { ConfigError } from '../../config/index.js';
import { NamedError } from '../../errors/NamedError.js';
import { HttpError } from '../../ingress/HttpError.js';
import { UnknownTopicError } from '../../log/Log.js';
import { FilterRuleError } from '../../processors/FilterRules.js';
import { BufferFullError } from '../../topology/dsl/SuppressProcessor.js';
import { InvalidStateStoreError } from '../../topology/runtime/InvalidStateStoreError.js';

describe('NamedError: the base of our error classes', () => {
  test('each subclass is named after itself, with or without a constructor of its own', () => {
    const errors = [
      new ConfigError('PORT="x" is not an integer'),
      new FilterRuleError('bad rule'),
      new BufferFullError('suppression buffer full'),
      new CliError('usage', 2),
      new HttpError(400, 'bad body', 'validation'),
      new UnknownTopicError('events.raw'),
      new InvalidStateStoreError('counts', 'REBALANCING'),
    ];
    expect(errors.map((error) => error.name)).toEqual(['ConfigError', 'FilterRuleError', 'BufferFullError', 'CliError', 'HttpError', 'UnknownTopicError', 'InvalidStateStoreError']);
    for (const error of errors) {
      expect(error).toBeInstanceOf(Error);
      expect(error).toBeInstanceOf(NamedError);
      expect(String(error)).toBe(`${error.name}: ${error.message}`);
    }
  });

  test('fields and messages set by subclass constructors are kept', () => {
    const error = new CliError('no such command', 2);
    expect(error.exitCode).toBe(2);
    expect(new UnknownTopicError('events.raw').message).toBe('unknown topic "events.raw"');
    expect(new NamedError('why', { cause: 'root' }).cause).toBe('root');
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Ajv as AjvClass, ValidateFunction } from 'ajv';
import type { Logger } from 'pino';
import { MAX_RULE_DEPTH, tooDeepAt } from './JsonDepth.js';
import { compileCondition, conditionSchema, valueAt, type CompiledCondition, type Condition } from './RuleConditions.js';
import { NamedError } from '../errors/NamedError.js';

/**
 * Seed 002's filter rules. A rule matches an event (optionally only some event types) by a
 * condition and applies an action:
 *   allow     — pass, marked with a flag (event.flags)
 *   block     — refuse: the event goes to the DLQ with reason "blocked by filter rule <id>"
 *   route     — pass with routing hints (event.hints) for routing rules and consumers
 *   transform — set or remove fields (dotted paths), then pass
 * Rules run in priority order (lower first); every matching rule applies until one blocks.
 * A failing rule (a transform that cannot apply) lets the event pass, as seed 002 says
 * ("default to allowing events through"), and is counted.
 *
 * Rules come from a JSON file ({"rules": [...]} or a bare array), validated with ajv and by
 * compiling every condition; reload() and watch() swap them at runtime. A bad file is refused
 * with an error naming the rule and field, and the rules in force stay.
 */
export type FilterAction =
  | { type: 'allow'; flag?: string }
  | { type: 'block'; reason?: string }
  | { type: 'route'; hints: string[] }
  | { type: 'transform'; set?: Record<string, unknown>; remove?: string[] };

export interface FilterRule {
  id: string;
  description?: string;
  enabled?: boolean;
  /** Lower runs first; default 100. */
  priority?: number;
  /** Only these event types (attempt, session, ..., product); all when absent. */
  event_types?: string[];
  when: Condition;
  action: FilterAction;
}

export interface FilterDecision<T> {
  event: T;
  blockedBy?: string;
  reason?: string;
  applied: string[];
}

interface CompiledRule {
  rule: FilterRule;
  types: Set<string> | undefined;
  matches: CompiledCondition;
}

export interface FilterRuleStats {
  id: string;
  description?: string;
  enabled: boolean;
  priority: number;
  action: string;
  evaluated: number;
  matched: number;
}

export class FilterRuleError extends NamedError {}

const ruleSchema = {
  type: 'object',
  required: ['id', 'when', 'action'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 128 },
    description: { type: 'string' },
    enabled: { type: 'boolean' },
    priority: { type: 'integer' },
    event_types: { type: 'array', items: { type: 'string', minLength: 1 } },
    when: { $ref: 'streamline-condition' },
    action: {
      oneOf: [
        { type: 'object', required: ['type'], additionalProperties: false, properties: { type: { const: 'allow' }, flag: { type: 'string', minLength: 1 } } },
        { type: 'object', required: ['type'], additionalProperties: false, properties: { type: { const: 'block' }, reason: { type: 'string' } } },
        { type: 'object', required: ['type', 'hints'], additionalProperties: false, properties: { type: { const: 'route' }, hints: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } } } },
        {
          type: 'object',
          required: ['type'],
          additionalProperties: false,
          properties: { type: { const: 'transform' }, set: { type: 'object' }, remove: { type: 'array', items: { type: 'string', minLength: 1 } } },
        },
      ],
    },
  },
} as const;

const fileSchema = {
  oneOf: [
    { type: 'array', items: ruleSchema },
    { type: 'object', required: ['rules'], properties: { version: { type: 'integer' }, rules: { type: 'array', items: ruleSchema } } },
  ],
};

/**
 * The file schema's validator, compiled on first use: a process or worker thread that imports the
 * processors without loading a rules file (the sink, the HTTP thread) never loads ajv or
 * generates its code (~4 MB per compiled schema set, per thread). The built-in rules skip it.
 */
let validateFile: ValidateFunction | undefined;
function fileValidator(): ValidateFunction {
  if (!validateFile) {
    const { Ajv } = createRequire(import.meta.url)('ajv') as { Ajv: typeof AjvClass };
    const ajv = new Ajv({ allErrors: false, strict: false });
    ajv.addSchema(conditionSchema);
    validateFile = ajv.compile(fileSchema);
  }
  return validateFile;
}

/** Seed 002's five default filters. */
export const DEFAULT_FILTER_RULES: FilterRule[] = [
  {
    id: 'bot_detection',
    description: 'Automated traffic by user agent: refused (to the DLQ)',
    priority: 10,
    when: { field: 'user_agent', op: 'regex', value: '(bot|crawler|spider|scraper|headless|python-requests|curl/|wget)', flags: 'i' },
    action: { type: 'block', reason: 'bot user agent' },
  },
  {
    id: 'rapid_fire',
    description: 'Suspiciously fast attempts (< 1 s): marked',
    priority: 20,
    event_types: ['attempt'],
    when: { field: 'payload.time_taken_ms', op: 'lt', value: 1000 },
    action: { type: 'allow', flag: 'rapid_fire' },
  },
  {
    id: 'high_value_users',
    description: 'Premium users: routed to special analytics',
    priority: 30,
    when: { field: 'enrichment.user.type', op: 'eq', value: 'premium' },
    action: { type: 'route', hints: ['high_value_analytics'] },
  },
  {
    id: 'perfect_score',
    description: 'Perfect sessions of 5 or more items: marked as potentially suspicious',
    priority: 40,
    event_types: ['session'],
    when: { all: [{ field: 'payload.items_attempted', op: 'gte', value: 5 }, { field: 'enrichment.derived.session_accuracy', op: 'eq', value: 1 }] },
    action: { type: 'allow', flag: 'perfect_score' },
  },
  {
    id: 'new_users',
    description: 'Events of new users: routed for onboarding analytics',
    priority: 50,
    when: { field: 'enrichment.derived.is_new_user', op: 'eq', value: true },
    action: { type: 'route', hints: ['onboarding'] },
  },
];

function formatAjvErrors(): string {
  return (fileValidator().errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ');
}

/** Validates and compiles rules; throws FilterRuleError naming the problem. */
export function compileFilterRules(input: unknown): CompiledRule[] {
  // Before ajv: its $ref recursion overflows the stack on a 20k-deep condition.
  const deep = tooDeepAt(input, MAX_RULE_DEPTH);
  if (deep !== undefined) throw new FilterRuleError(`invalid filter rules: nested deeper than ${MAX_RULE_DEPTH} levels (at ${deep})`);
  // The built-in rules are constants, checked against the schema by the tests (test/processors/lazy-rule-validation.test.ts).
  if (input !== DEFAULT_FILTER_RULES && !fileValidator()(input)) throw new FilterRuleError(`invalid filter rules: ${formatAjvErrors()}`);
  const rules = Array.isArray(input) ? (input as FilterRule[]) : (input as { rules: FilterRule[] }).rules;
  const seen = new Set<string>();
  const compiled: CompiledRule[] = [];
  for (const rule of rules) {
    if (seen.has(rule.id)) throw new FilterRuleError(`invalid filter rules: duplicate rule id "${rule.id}"`);
    seen.add(rule.id);
    let matches: CompiledCondition;
    try {
      matches = compileCondition(rule.when);
    } catch (error) {
      throw new FilterRuleError(`invalid filter rule "${rule.id}": ${(error as Error).message}`);
    }
    compiled.push({ rule, types: rule.event_types ? new Set(rule.event_types) : undefined, matches });
  }
  // Stable: equal priorities keep file order.
  return compiled.sort((a, b) => (a.rule.priority ?? 100) - (b.rule.priority ?? 100));
}

/** Copy-on-write set/delete of a dotted path, so the input event object is never mutated. */
function setPath(target: Record<string, unknown>, path: string[], value: unknown, remove: boolean): Record<string, unknown> {
  const [head, ...rest] = path;
  const copy = { ...target };
  if (rest.length === 0) {
    if (remove) delete copy[head!];
    else copy[head!] = value;
    return copy;
  }
  const child = copy[head!];
  if (child !== null && typeof child === 'object' && !Array.isArray(child)) copy[head!] = setPath(child as Record<string, unknown>, rest, value, remove);
  else if (!remove) copy[head!] = setPath({}, rest, value, remove);
  return copy;
}

function withListItem(event: Record<string, unknown>, field: string, items: string[]): Record<string, unknown> {
  const current = Array.isArray(event[field]) ? (event[field] as string[]) : [];
  const missing = items.filter((item) => !current.includes(item));
  return missing.length === 0 ? event : { ...event, [field]: [...current, ...missing] };
}

/**
 * The rules in force, shared by every task's filter processor (one object per pipeline), with
 * match statistics for GET /processor/filters.
 *
 * @example
 *   const rules = new FilterRuleSet(DEFAULT_FILTER_RULES);
 *   rules.loadFile('config/filter-rules.json');   // throws FilterRuleError on a bad file
 *   rules.watch('config/filter-rules.json', logger); // reloads on change, keeps old rules on error
 */
export class FilterRuleSet {
  private compiled: CompiledRule[];
  private readonly counters = new Map<string, { evaluated: number; matched: number; errors: number }>();
  private watcher: { close(): void } | undefined;
  private signalCleanup: (() => void) | undefined;
  loadedFrom: string | undefined;
  loadedAt = Date.now();
  lastError: string | undefined;
  /** Events passed through because a rule failed to apply. */
  ruleErrors = 0;
  /** The last rule error, for /processor/status when it persists. */
  lastRuleError: string | undefined;

  constructor(rules: unknown = DEFAULT_FILTER_RULES) {
    this.compiled = compileFilterRules(rules);
  }

  rules(): FilterRule[] {
    return this.compiled.map((c) => c.rule);
  }

  /** Replaces the rules, or throws and keeps the current ones. */
  replace(rules: unknown): void {
    this.compiled = compileFilterRules(rules);
    this.loadedAt = Date.now();
  }

  loadFile(file: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (error) {
      throw new FilterRuleError(`cannot read filter rules from ${file}: ${(error as Error).message}`);
    }
    try {
      this.replace(parsed);
    } catch (error) {
      throw new FilterRuleError(`${file}: ${(error as Error).message}`);
    }
    this.loadedFrom = file;
    this.lastError = undefined;
  }

  /** Reloads the file last loaded; on error keeps the rules in force and returns the error. */
  reload(): { ok: true; rules: number } | { ok: false; error: string } {
    if (!this.loadedFrom) return { ok: false, error: 'no rule file was loaded' };
    try {
      this.loadFile(this.loadedFrom);
      return { ok: true, rules: this.compiled.length };
    } catch (error) {
      this.lastError = (error as Error).message;
      return { ok: false, error: this.lastError };
    }
  }

  /**
   * Watches the file's directory (inotify/FSEvents, so editors that replace the file by a rename
   * are followed too) and reloads shortly after a change settles; a bad file is logged and refused.
   */
  watch(file: string, logger?: Logger, settleMs = 50): void {
    this.unwatch();
    this.loadFile(file);
    const name = path.basename(file);
    let timer: NodeJS.Timeout | undefined;
    const watcher = fs.watch(path.dirname(file), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed.toString() !== name) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        const result = this.reload();
        if (result.ok) logger?.info({ file, rules: result.rules }, 'filter rules reloaded');
        else logger?.error({ file, error: result.error }, 'filter rule file refused; the previous rules stay in force');
      }, settleMs);
      timer.unref();
    });
    this.watcher = { close: () => { clearTimeout(timer); watcher.close(); } };
  }

  unwatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.signalCleanup?.();
    this.signalCleanup = undefined;
  }

  /** Reloads the rule file on a signal too (SIGHUP by default), for deployments that prefer it to watching. */
  reloadOnSignal(signal: NodeJS.Signals = 'SIGHUP', logger?: Logger): void {
    this.signalCleanup?.();
    const handler = () => {
      const result = this.reload();
      if (result.ok) logger?.info({ signal, rules: result.rules }, 'filter rules reloaded');
      else logger?.error({ signal, error: result.error }, 'filter rule file refused; the previous rules stay in force');
    };
    process.on(signal, handler);
    this.signalCleanup = () => process.off(signal, handler);
  }

  /** Applies the rules to one event. */
  apply<T extends { event_type: string }>(event: T): FilterDecision<T> {
    let current = event as unknown as Record<string, unknown>;
    const applied: string[] = [];
    for (const { rule, types, matches } of this.compiled) {
      if (rule.enabled === false || (types && !types.has(event.event_type))) continue;
      const counter = this.counter(rule.id);
      counter.evaluated++;
      let matched: boolean;
      try {
        matched = matches(current);
      } catch (error) {
        // Seed 002: a filter that fails lets the event through (this rule is skipped).
        this.ruleErrors++;
        counter.errors++;
        this.lastRuleError = `rule ${rule.id}: ${(error as Error).message}`;
        continue;
      }
      if (!matched) continue;
      counter.matched++;
      const action = rule.action;
      try {
        switch (action.type) {
          case 'block':
            return { event: current as unknown as T, blockedBy: rule.id, reason: `blocked by filter rule ${rule.id}${action.reason ? `: ${action.reason}` : ''}`, applied: [...applied, rule.id] };
          case 'allow':
            current = withListItem(current, 'flags', [action.flag ?? rule.id]);
            break;
          case 'route':
            current = withListItem(current, 'hints', action.hints);
            break;
          case 'transform':
            for (const [path, value] of Object.entries(action.set ?? {})) current = setPath(current, path.split('.'), value, false);
            for (const path of action.remove ?? []) if (valueAt(current, path.split('.')) !== undefined) current = setPath(current, path.split('.'), undefined, true);
            break;
        }
        applied.push(rule.id);
      } catch (error) {
        this.ruleErrors++;
        counter.errors++;
        this.lastRuleError = `rule ${rule.id}: ${(error as Error).message}`;
      }
    }
    return { event: current as unknown as T, applied };
  }

  stats(): FilterRuleStats[] {
    return this.compiled.map(({ rule }) => {
      const counter = this.counters.get(rule.id) ?? { evaluated: 0, matched: 0, errors: 0 };
      return { id: rule.id, description: rule.description, enabled: rule.enabled !== false, priority: rule.priority ?? 100, action: rule.action.type, ...counter };
    });
  }

  /** Evaluations per rule that threw (condition or action): the rule was skipped and the event let through it (seed 002). */
  errorsByRule(): Array<{ name: string; value: number }> {
    return [...this.counters].map(([name, counter]) => ({ name, value: counter.errors }));
  }

  private counter(id: string): { evaluated: number; matched: number; errors: number } {
    let counter = this.counters.get(id);
    if (!counter) this.counters.set(id, (counter = { evaluated: 0, matched: 0, errors: 0 }));
    return counter;
  }
}

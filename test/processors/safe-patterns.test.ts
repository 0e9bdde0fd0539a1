import { performance } from 'node:perf_hooks';
import { FilterRuleError, FilterRuleSet, type FilterRule } from '../../processors/FilterRules.js';
import type { LearningEvent } from '../../processors/LandingEvent.js';
import { compileCondition } from '../../processors/RuleConditions.js';
import { compileSafePattern, MAX_SUBJECT_CHARS, PatternError } from '../../processors/SafePattern.js';

const event = (payload: Record<string, unknown>): LearningEvent => ({
  v: 1,
  event_id: 'e',
  id_assigned: false,
  event_type: 'product',
  kind: 'product',
  source: 'product',
  received_at: 1000,
  event_time: 1000,
  user_id: 'u',
  payload,
});

/** Milliseconds one call takes. */
function timed(fn: () => unknown): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

// Issue 12's probes. The bounds are generous for a linear engine (a match here takes about a
// millisecond) and far below what a backtracking engine needs: V8's RegExp took 17.3 s on the
// first probe (0.64 s already at 24 a's) and 13-19 ms per dead letter on the second.
describe('user patterns run in linear time (RE2)', () => {
  test('filter rule ^(a+)+$ against 29 a\'s + "!" matches in well under 50 ms', () => {
    const rules = new FilterRuleSet([{ id: 'redos', when: { field: 'payload.event_name', op: 'regex', value: '^(a+)+$' }, action: { type: 'block', reason: 'x' } }]);
    const probe = event({ event_name: `${'a'.repeat(29)}!` });
    let decision: ReturnType<FilterRuleSet['apply']> | undefined;
    expect(timed(() => (decision = rules.apply(probe)))).toBeLessThan(50);
    expect(decision!.blockedBy).toBeUndefined();
    expect(rules.apply(event({ event_name: 'a'.repeat(29) })).blockedBy).toBe('redos');
    // At the subject cap the cost stays bounded too.
    expect(timed(() => rules.apply(event({ event_name: `${'a'.repeat(MAX_SUBJECT_CHARS)}!` })))).toBeLessThan(50);
  });

  test('DLQ replay reason ^(.|.){0,20}Q over 100 dead letters matches in well under 50 ms', () => {
    const reason = compileSafePattern('^(.|.){0,20}Q');
    // Each reason costs V8's RegExp 2^20 steps (13-19 ms here): 100 dead letters stall it 1.3-1.9 s.
    const dlqReasons = Array.from({ length: 100 }, (_, i) => `landing record value is not JSON ${i} `.padEnd(1000, 'x'));
    let matched = 0;
    expect(timed(() => (matched = dlqReasons.filter((r) => reason.test(r)).length))).toBeLessThan(50);
    expect(matched).toBe(0);
    expect(reason.test('xxQ')).toBe(true);
  });

  test('patterns RE2 cannot run in linear time are refused at submission, naming the rule and the problem', () => {
    const rule = (id: string, value: string, flags?: string): FilterRule => ({ id, when: { field: 'payload.event_name', op: 'regex', value, ...(flags ? { flags } : {}) }, action: { type: 'allow' } });
    const set = new FilterRuleSet([]);
    expect(() => set.replace([rule('backref', '(a)\\1')])).toThrow(new FilterRuleError('invalid filter rule "backref": payload.event_name regex "(a)\\\\1": invalid escape sequence: `\\1` (patterns run on RE2: no backreferences or lookaround, repeat counts up to 1000)'));
    expect(() => set.replace([rule('lookahead', 'a(?=b)')])).toThrow(/^invalid filter rule "lookahead": payload\.event_name regex "a\(\?=b\)": invalid or unsupported Perl syntax/);
    expect(() => set.replace([rule('nested_repeat', '((a{100}){100}){100}')])).toThrow(/^invalid filter rule "nested_repeat": .*invalid repeat count/);
    expect(() => set.replace([rule('long', 'a'.repeat(1001))])).toThrow(/^invalid filter rule "long": .*at most 1000/);
    expect(() => set.replace([rule('sticky', 'a', 'y')])).toThrow(FilterRuleError);
    expect(set.rules()).toEqual([]);
  });

  test('flags i, m, s work as in JavaScript; a subject past the cap is matched on its first characters', () => {
    expect(compileCondition({ field: 's', op: 'regex', value: '^HELLO', flags: 'i' })({ s: 'hello' })).toBe(true);
    expect(compileCondition({ field: 's', op: 'regex', value: '^b$', flags: 'm' })({ s: 'a\nb' })).toBe(true);
    expect(compileCondition({ field: 's', op: 'regex', value: 'a.b', flags: 's' })({ s: 'a\nb' })).toBe(true);
    expect(compileCondition({ field: 's', op: 'regex', value: 'a.b' })({ s: 'a\nb' })).toBe(false);
    const long = (head: string) => ({ s: head + 'x'.repeat(MAX_SUBJECT_CHARS) + 'needle' });
    expect(compileCondition({ field: 's', op: 'regex', value: 'needle' })(long(''))).toBe(false);
    expect(compileCondition({ field: 's', op: 'regex', value: '^python-requests' })(long('python-requests/2.31 '))).toBe(true);
    expect(() => compileSafePattern('(?<=a)b')).toThrow(PatternError);
  });

  test('the default bot rule still blocks by user agent', () => {
    const rules = new FilterRuleSet();
    expect(rules.apply({ ...event({}), user_agent: 'Mozilla/5.0 (compatible; Googlebot/2.1)' }).blockedBy).toBe('bot_detection');
    expect(rules.apply({ ...event({}), user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0' }).blockedBy).toBeUndefined();
  });

  test('a 20k-deep rule body is refused before ajv or the compiler recurse', () => {
    let when: unknown = { field: 'x', op: 'exists' };
    for (let i = 0; i < 20_000; i++) when = { not: when };
    const set = new FilterRuleSet([]);
    expect(() => set.replace([{ id: 'deep', when, action: { type: 'allow' } }])).toThrow(/^invalid filter rules: nested deeper than 64 levels \(at \/0\/when\/not\/not\//);
    expect(() => compileCondition(when as never)).toThrow(/nests deeper than 64 levels/);
  });
});

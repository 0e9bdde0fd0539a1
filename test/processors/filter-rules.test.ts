import fs from 'node:fs';
import path from 'node:path';
import { filterEvents } from '../../processors/FilterProcessor.js';
import { DEFAULT_FILTER_RULES, FilterRuleError, FilterRuleSet, type FilterRule } from '../../processors/FilterRules.js';
import type { LearningEvent } from '../../processors/LandingEvent.js';
import { compileCondition, type Condition } from '../../processors/RuleConditions.js';
import { StreamsBuilder, DLQ_REASON, ORIGINAL_TOPIC, ORIGINAL_OFFSET, ORIGINAL_PARTITION, DLQ_TIMESTAMP } from '../../topology/index.js';
import { jsonValues, readAll } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';
import { harness } from './support.js';

const event = (overrides: Partial<LearningEvent> & { payload?: Record<string, unknown> }): LearningEvent => ({
  v: 1,
  event_id: 'e',
  id_assigned: false,
  event_type: 'attempt',
  kind: 'attempt',
  source: 'seed000',
  received_at: 1000,
  event_time: 1000,
  user_id: 'u',
  payload: {},
  ...overrides,
});

describe('conditions', () => {
  const target = { a: { n: 5, s: 'Hello World', list: ['x', 'y'], flag: true, nil: null } };
  test.each<[Condition, boolean]>([
    [{ field: 'a.n', op: 'eq', value: 5 }, true],
    [{ field: 'a.n', op: 'ne', value: 5 }, false],
    [{ field: 'a.n', op: 'gt', value: 4 }, true],
    [{ field: 'a.n', op: 'gte', value: 5 }, true],
    [{ field: 'a.n', op: 'lt', value: 5 }, false],
    [{ field: 'a.n', op: 'lte', value: 5 }, true],
    [{ field: 'a.s', op: 'gt', value: 1 }, false],
    [{ field: 'a.s', op: 'contains', value: 'World' }, true],
    [{ field: 'a.list', op: 'contains', value: 'y' }, true],
    [{ field: 'a.s', op: 'regex', value: '^hello', flags: 'i' }, true],
    [{ field: 'a.s', op: 'regex', value: '^hello' }, false],
    [{ field: 'a.n', op: 'in', value: [1, 5, 9] }, true],
    [{ field: 'a.n', op: 'range', value: [5, 6] }, true],
    [{ field: 'a.n', op: 'range', value: [6, 9] }, false],
    [{ field: 'a.flag', op: 'exists' }, true],
    [{ field: 'a.nil', op: 'exists' }, false],
    [{ field: 'a.missing', op: 'exists', value: false }, true],
    [{ all: [{ field: 'a.n', op: 'eq', value: 5 }, { field: 'a.flag', op: 'eq', value: true }] }, true],
    [{ any: [{ field: 'a.n', op: 'eq', value: 6 }, { field: 'a.flag', op: 'eq', value: false }] }, false],
    [{ not: { field: 'a.n', op: 'eq', value: 6 } }, true],
  ])('%j → %s', (condition, expected) => {
    expect(compileCondition(condition)(target)).toBe(expected);
  });
});

describe('FilterRuleSet', () => {
  test('the five default rules: bot blocked, rapid fire and perfect score flagged, premium and new users hinted', () => {
    const rules = new FilterRuleSet();
    expect(rules.rules().map((r) => r.id)).toEqual(['bot_detection', 'rapid_fire', 'high_value_users', 'perfect_score', 'new_users']);
    expect(rules.apply(event({ user_agent: 'Googlebot/2.1' })).blockedBy).toBe('bot_detection');
    const rapid = rules.apply(event({ payload: { time_taken_ms: 400 }, enrichment: { user: { user_id: 'u', type: 'premium' }, item: null, derived: { local_hour: 1, time_of_day: 'night', timezone: 'UTC', is_new_user: true } } }));
    expect(rapid.blockedBy).toBeUndefined();
    expect(rapid.event.flags).toEqual(['rapid_fire']);
    expect(rapid.event.hints).toEqual(['high_value_analytics', 'onboarding']);
    const session = rules.apply(event({ event_type: 'session', kind: 'session', payload: { items_attempted: 8 }, enrichment: { user: null, item: null, derived: { local_hour: 1, time_of_day: 'night', timezone: 'UTC', session_accuracy: 1 } } }));
    expect(session.event.flags).toEqual(['perfect_score']);
    const plain = event({ payload: { time_taken_ms: 4000 } });
    expect(rules.apply(plain).event).toBe(plain);
    expect(rules.stats().find((s) => s.id === 'rapid_fire')).toMatchObject({ evaluated: 2, matched: 1 });
  });

  test('transform sets and removes fields without mutating the input', () => {
    const rules = new FilterRuleSet([
      { id: 'redact', when: { field: 'payload.selected', op: 'exists' }, action: { type: 'transform', set: { 'payload.redacted': true }, remove: ['payload.selected'] } },
      { id: 'off', enabled: false, when: { field: 'payload.redacted', op: 'exists' }, action: { type: 'block' } },
    ]);
    const input = event({ payload: { selected: 'B', item_id: 'i' } });
    const out = rules.apply(input).event;
    expect(out.payload).toEqual({ item_id: 'i', redacted: true });
    expect(input.payload).toEqual({ selected: 'B', item_id: 'i' });
  });

  test('a flagged and hinted event writes the JSON of the event with flags then hints appended, key order kept', () => {
    const rules = new FilterRuleSet();
    const input = {
      ...event({ payload: { item_id: 'i', time_taken_ms: 400 }, user_agent: 'ua/1' }),
      enrichment: { user: { user_id: 'u', type: 'premium' as const }, item: null, derived: { local_hour: 1, time_of_day: 'night' as const, timezone: 'UTC', is_new_user: true } },
    };
    const out = rules.apply(input).event;
    expect(JSON.stringify(out)).toBe(
      '{"v":1,"event_id":"e","id_assigned":false,"event_type":"attempt","kind":"attempt","source":"seed000","received_at":1000,"event_time":1000,"user_id":"u",' +
        '"payload":{"item_id":"i","time_taken_ms":400},"user_agent":"ua/1","enrichment":{"user":{"user_id":"u","type":"premium"},"item":null,' +
        '"derived":{"local_hour":1,"time_of_day":"night","timezone":"UTC","is_new_user":true}},"flags":["rapid_fire"],"hints":["high_value_analytics","onboarding"]}',
    );
    // A list the event has keeps its place and gains the missing items.
    const hinted = rules.apply({ ...input, hints: ['mine'], flags: ['rapid_fire'] }).event;
    expect(Object.keys(hinted).slice(-2)).toEqual(['hints', 'flags']);
    expect(hinted.hints).toEqual(['mine', 'high_value_analytics', 'onboarding']);
    expect(hinted.flags).toEqual(['rapid_fire']);
  });

  test('transform keeps key order (set replaces in place, adds last) and copies an own "__proto__" key as a key', () => {
    const rules = new FilterRuleSet([
      { id: 'set', when: { field: 'payload.item_id', op: 'exists' }, action: { type: 'transform', set: { 'payload.item_id': 'j', 'payload.extra.deep': 1, tag: 't', 'enrichment.note': 'n' } } },
    ]);
    const payload = JSON.parse('{"item_id":"i","__proto__":{"polluted":true},"z":0}') as Record<string, unknown>;
    const out = rules.apply(event({ payload })).event as unknown as Record<string, unknown>;
    expect(JSON.stringify(out)).toBe(
      '{"v":1,"event_id":"e","id_assigned":false,"event_type":"attempt","kind":"attempt","source":"seed000","received_at":1000,"event_time":1000,"user_id":"u",' +
        '"payload":{"item_id":"j","__proto__":{"polluted":true},"z":0,"extra":{"deep":1}},"tag":"t","enrichment":{"note":"n"}}',
    );
    expect(Object.getPrototypeOf(out.payload)).toBe(Object.prototype);
    expect((out.payload as { polluted?: boolean }).polluted).toBeUndefined();
  });

  test.each<[string, unknown, RegExp]>([
    ['an unknown op', [{ id: 'x', when: { field: 'a', op: 'like', value: 1 }, action: { type: 'allow' } }], /invalid filter rules/],
    ['an unknown action', [{ id: 'x', when: { field: 'a', op: 'eq', value: 1 }, action: { type: 'explode' } }], /invalid filter rules/],
    ['a bad regex', [{ id: 'x', when: { field: 'a', op: 'regex', value: '(' }, action: { type: 'allow' } }], /rule "x": a regex/],
    ['a non-numeric gt', [{ id: 'x', when: { field: 'a', op: 'gt', value: 'big' }, action: { type: 'allow' } }], /must be a number/],
    ['a duplicate id', [{ id: 'x', when: { field: 'a', op: 'exists' }, action: { type: 'allow' } }, { id: 'x', when: { field: 'a', op: 'exists' }, action: { type: 'allow' } }], /duplicate rule id "x"/],
    ['route without hints', [{ id: 'x', when: { field: 'a', op: 'exists' }, action: { type: 'route' } }], /invalid filter rules/],
  ])('refuses %s', (_name, rules, message) => {
    const set = new FilterRuleSet();
    expect(() => set.replace(rules)).toThrow(FilterRuleError);
    expect(() => set.replace(rules)).toThrow(message);
    expect(set.rules()).toHaveLength(DEFAULT_FILTER_RULES.length);
  });

  test('a rule file loads, reloads on change when watched, and a bad file is refused with the old rules kept', async () => {
    const dir = tempDir('filter-file');
    const file = path.join(dir, 'rules.json');
    const rulesV1: FilterRule[] = [{ id: 'slow', event_types: ['attempt'], when: { field: 'payload.time_taken_ms', op: 'gt', value: 10_000 }, action: { type: 'allow', flag: 'slow' } }];
    fs.writeFileSync(file, JSON.stringify({ version: 1, rules: rulesV1 }));
    const set = new FilterRuleSet();
    try {
      set.watch(file, undefined, 20);
      expect(set.rules().map((r) => r.id)).toEqual(['slow']);

      fs.writeFileSync(file, '{ "rules": [ { "id": "broken" ');
      await waitFor(() => set.lastError !== undefined);
      expect(set.lastError).toMatch(/cannot read filter rules/);
      expect(set.rules().map((r) => r.id)).toEqual(['slow']);
      expect(set.reload()).toEqual({ ok: false, error: expect.stringContaining(file) });

      fs.writeFileSync(file, JSON.stringify([...rulesV1, { id: 'bots', when: { field: 'user_agent', op: 'contains', value: 'bot' }, action: { type: 'block' } }]));
      await waitFor(() => set.rules().length === 2);
      expect(set.lastError).toBeUndefined();
      expect(set.apply(event({ user_agent: 'a bot' })).blockedBy).toBe('bots');

      // SIGHUP reloads as well (emitted in-process: the handler is what is under test).
      set.unwatch();
      set.reloadOnSignal('SIGHUP');
      fs.writeFileSync(file, JSON.stringify(rulesV1));
      expect(set.rules()).toHaveLength(2);
      process.emit('SIGHUP', 'SIGHUP');
      expect(set.rules().map((r) => r.id)).toEqual(['slow']);
    } finally {
      set.unwatch();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Polls a condition the file watcher makes true (the watcher has no event to await). */
async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('filterEvents in a topology', () => {
  test('blocked events go to the DLQ as their landing envelope with the DLQ headers; the rest pass, marked', async () => {
    const h = await harness('filter');
    try {
      await h.log.ensureTopic('events', { partitions: 2 });
      const events = [
        event({ event_id: 'ok', payload: { time_taken_ms: 3000 } }),
        event({ event_id: 'fast', payload: { time_taken_ms: 300 } }),
        event({ event_id: 'bot', user_agent: 'python-requests/2.31', payload: { time_taken_ms: 300 } }),
      ];
      await h.log.produce(events.map((e, i) => ({ topic: 'events', key: Buffer.from(`u${i}`), value: Buffer.from(JSON.stringify(e)), timestamp: 5000 + i })));
      const builder = new StreamsBuilder();
      filterEvents(builder.stream<string, LearningEvent>('events'), new FilterRuleSet(), { dlqTopic: 'dlq.events' }).to('kept');
      await h.run(builder, ['events']);
      const kept = jsonValues<LearningEvent>(await readAll(h.log, 'kept'));
      expect(kept.map((e) => [e.event_id, e.flags ?? []]).sort()).toEqual([['fast', ['rapid_fire']], ['ok', []]]);
      const dlq = await readAll(h.log, 'dlq.events');
      expect(dlq).toHaveLength(1);
      expect(dlq[0]!.key!.toString()).toBe('u2');
      expect(dlq[0]!.headers).toMatchObject({ [DLQ_REASON]: 'blocked by filter rule bot_detection: bot user agent', [ORIGINAL_TOPIC]: 'events', [DLQ_TIMESTAMP]: new Date(5002).toISOString() });
      expect(Number(dlq[0]!.headers[ORIGINAL_OFFSET])).toBeGreaterThanOrEqual(0);
      expect(dlq[0]!.headers[ORIGINAL_PARTITION]).toMatch(/^[01]$/);
      expect(JSON.parse(dlq[0]!.value!.toString())).toEqual({ v: 1, event_id: 'bot', id_assigned: false, event_type: 'attempt', source: 'seed000', received_at: 1000, payload: { time_taken_ms: 300 }, user_agent: 'python-requests/2.31' });
      expect(await h.outcome('filter', 'blocked')).toBe(1);
      expect(await h.outcome('filter', 'passed')).toBe(2);
      expect(await h.outcome('filter', 'flagged')).toBe(1);
    } finally {
      await h.close();
    }
  });
});

describe('the example rule file', () => {
  test('processors/rules/default-filter-rules.json is valid and holds exactly the built-in defaults', () => {
    const file = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'processors', 'rules', 'default-filter-rules.json');
    const set = new FilterRuleSet([]);
    set.loadFile(file);
    expect(set.rules()).toEqual(DEFAULT_FILTER_RULES);
  });
});

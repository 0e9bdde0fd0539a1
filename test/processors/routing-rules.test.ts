import type { LearningEvent } from '../../processors/LandingEvent.js';
import { readPipelineConfig } from '../../processors/PipelineConfig.js';
import { readOutputTopics } from '../../processors/OutputTopics.js';
import { defaultRoutingRules, routeEvents, RoutingRuleError, RoutingTable, ROUTE_TOPIC_HEADER } from '../../processors/RoutingRules.js';
import { StreamsBuilder } from '../../topology/index.js';
import { readAll } from '../support/streams.js';
import { harness } from './support.js';

const event = (event_type: string, payload: Record<string, unknown>, id = 'e'): LearningEvent => ({
  v: 1,
  event_id: id,
  id_assigned: false,
  event_type,
  kind: (['attempt', 'session', 'placement', 'product'].includes(event_type) ? event_type : 'collector') as LearningEvent['kind'],
  source: 'seed000',
  received_at: 1000,
  event_time: 1000,
  user_id: 'u',
  payload,
});

describe('RoutingTable', () => {
  const topics = readOutputTopics({});

  test('topic names default to seed 003 and come from KAFKA_TOPIC_* when set', () => {
    expect(topics).toEqual({ attempts: 'user.attempts', sessions: 'user.sessions', placements: 'user.placements', activities: 'user.activities', mlTraining: 'ml.training_events' });
    expect(readOutputTopics({ KAFKA_TOPIC_ATTEMPTS: 'a', KAFKA_TOPIC_ML_TRAINING: 'ml' })).toMatchObject({ attempts: 'a', mlTraining: 'ml', sessions: 'user.sessions' });
  });

  test('seed 003 default rules, multi-destination, in priority order', () => {
    const table = new RoutingTable(defaultRoutingRules(topics));
    expect(table.destinations(event('attempt', { quality: 4 }))).toEqual(['ml.training_events', 'user.attempts']);
    expect(table.destinations(event('attempt', { quality: 3 }))).toEqual(['user.attempts']);
    expect(table.destinations(event('session', { items_attempted: 3 }))).toEqual(['user.sessions']);
    expect(table.destinations(event('session', { items_attempted: 0 }))).toEqual([]);
    expect(table.destinations(event('placement', { was_completed: true }))).toEqual(['user.placements', 'ml.training_events']);
    expect(table.destinations(event('placement', { was_completed: false }))).toEqual([]);
    expect(table.destinations(event('interaction', {}))).toEqual(['user.activities']);
    expect(table.destinations(event('product', { event_name: 'view' }))).toEqual(['user.activities']);
  });

  test('rules are added, replaced, disabled and removed at runtime; invalid ones are refused', () => {
    const table = new RoutingTable(defaultRoutingRules(topics), { allowedTopics: [...Object.values(topics), 'fast_responses'] });
    table.add({ id: 'fast', priority: 0, enabled: true, event_types: ['attempt'], when: { field: 'payload.time_taken_ms', op: 'lt', value: 1000 }, topics: ['fast_responses', 'user.attempts'] });
    expect(table.destinations(event('attempt', { time_taken_ms: 500 }))).toEqual(['fast_responses', 'user.attempts']);
    expect(table.setEnabled('all_attempts', false)).toBe(true);
    expect(table.destinations(event('attempt', { time_taken_ms: 5000 }))).toEqual([]);
    expect(table.remove('fast')).toBe(true);
    expect(table.remove('fast')).toBe(false);
    expect(() => table.add({ id: 'bad', priority: 1, enabled: true, topics: [] })).toThrow(RoutingRuleError);
    expect(() => table.add({ id: 'bad', priority: 1, enabled: true, topics: ['has space'] })).toThrow(/invalid routing rule/);
    expect(() => table.add({ id: 'bad', priority: 1, enabled: true, when: { field: 'x', op: 'regex', value: '[' }, topics: ['user.attempts'] })).toThrow(/"bad"/);
  });

  // Issue 12: a rule to any topic created it and routed events into it (attacker.exfil), and
  // events.raw, ref.users and changelogs were reachable too.
  test('rules may target only the configured output topics; others are refused naming the allowed list', () => {
    const config = readPipelineConfig({});
    expect(config.routeTopics).toEqual(['user.attempts', 'user.sessions', 'user.placements', 'user.activities', 'ml.training_events']);
    const table = new RoutingTable(defaultRoutingRules(config.outputTopics), { allowedTopics: config.routeTopics });
    for (const target of ['attacker.exfil', 'events.raw', 'ref.users', 'events-dlq', 'events.clean', 'streamline-dedupe-ids-changelog']) {
      expect(() => table.add({ id: 'exfil', priority: 0, enabled: true, topics: ['user.attempts', target] })).toThrow(
        `routing rule "exfil" targets "${target}": rules may target only the configured output topics (ROUTE_TOPICS): ml.training_events, user.activities, user.attempts, user.placements, user.sessions`,
      );
    }
    expect(table.rules().map((r) => r.id)).not.toContain('exfil');
    table.add({ id: 'premium_attempts', priority: 0, enabled: true, event_types: ['attempt'], topics: ['ml.training_events'] });
    expect(table.destinations(event('attempt', { quality: 1 }))).toEqual(['ml.training_events', 'user.attempts']);
    // Without a list, a table allows what its initial rules target.
    expect(new RoutingTable(defaultRoutingRules(config.outputTopics)).allowedTopics().sort()).toEqual([...config.routeTopics].sort());
  });

  test('ROUTE_TOPICS extends the list; internal topics are refused at start', () => {
    expect(readPipelineConfig({ ROUTE_TOPICS: 'user.attempts, fast_responses' }).routeTopics).toEqual(['user.attempts', 'fast_responses']);
    for (const [list, role] of [
      ['user.attempts,events.raw', 'the landing topic'],
      ['ref.users', 'a reference topic'],
      ['events-dlq', 'the DLQ'],
      ['events.clean', 'the clean events topic'],
      ['streamline-dedupe-ids-changelog', 'an internal topic'],
      ['x-KSTREAM-1-repartition', 'an internal topic'],
    ] as const) {
      expect(() => readPipelineConfig({ ROUTE_TOPICS: list })).toThrow(new RegExp(`^ROUTE_TOPICS must not name ${role}`));
    }
    expect(() => readPipelineConfig({ ROUTE_TOPICS: 'bad name' })).toThrow(/not a valid topic name/);
  });

  test('a 20k-deep condition is refused before any recursion', () => {
    const table = new RoutingTable(defaultRoutingRules(topics));
    let when: unknown = { field: 'x', op: 'exists' };
    for (let i = 0; i < 20_000; i++) when = { not: when };
    expect(() => table.add({ id: 'deep', priority: 0, enabled: true, when: when as never, topics: ['user.attempts'] })).toThrow(/nested deeper than 64 levels \(at \/when\/not\/not/);
  });
});

describe('routeEvents in a topology', () => {
  test('each event is written once to each destination topic; unrouted ones are counted', async () => {
    const h = await harness('route');
    try {
      await h.log.ensureTopic('events', { partitions: 2 });
      const events = [
        event('attempt', { quality: 5 }, 'a-hq'),
        event('attempt', { quality: 1 }, 'a-lq'),
        event('session', { items_attempted: 2 }, 's-ok'),
        event('session', { items_attempted: 0 }, 's-empty'),
        event('placement', { was_completed: true }, 'p-done'),
      ];
      await h.log.produce(events.map((e) => ({ topic: 'events', key: Buffer.from(e.event_id), value: Buffer.from(JSON.stringify(e)) })));
      const table = new RoutingTable(defaultRoutingRules(readOutputTopics({})));
      const builder = new StreamsBuilder();
      routeEvents(builder.stream<string, LearningEvent>('events'), table);
      await h.run(builder, ['events']);
      const ids = async (topic: string) => (await readAll(h.log, topic).catch(() => [])).map((r) => JSON.parse(r.value!.toString()).event_id).sort();
      expect(await ids('user.attempts')).toEqual(['a-hq', 'a-lq']);
      expect(await ids('ml.training_events')).toEqual(['a-hq', 'p-done']);
      expect(await ids('user.sessions')).toEqual(['s-ok']);
      expect(await ids('user.placements')).toEqual(['p-done']);
      const attempt = (await readAll(h.log, 'user.attempts'))[0]!;
      expect(attempt.headers[ROUTE_TOPIC_HEADER]).toBe('user.attempts');
      expect(await h.outcome('route', 'unrouted')).toBe(1);
      expect(await h.outcome('route', 'routed')).toBe(6);
    } finally {
      await h.close();
    }
  });
});

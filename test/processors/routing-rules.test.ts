import type { LearningEvent } from '../../processors/LandingEvent.js';
import { defaultRoutingRules, readOutputTopics, routeEvents, RoutingRuleError, RoutingTable, ROUTE_TOPIC_HEADER } from '../../processors/RoutingRules.js';
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
    const table = new RoutingTable(defaultRoutingRules(topics));
    table.add({ id: 'fast', priority: 0, enabled: true, event_types: ['attempt'], when: { field: 'payload.time_taken_ms', op: 'lt', value: 1000 }, topics: ['fast_responses', 'user.attempts'] });
    expect(table.destinations(event('attempt', { time_taken_ms: 500 }))).toEqual(['fast_responses', 'user.attempts']);
    expect(table.setEnabled('all_attempts', false)).toBe(true);
    expect(table.destinations(event('attempt', { time_taken_ms: 5000 }))).toEqual([]);
    expect(table.remove('fast')).toBe(true);
    expect(table.remove('fast')).toBe(false);
    expect(() => table.add({ id: 'bad', priority: 1, enabled: true, topics: [] })).toThrow(RoutingRuleError);
    expect(() => table.add({ id: 'bad', priority: 1, enabled: true, topics: ['has space'] })).toThrow(/invalid routing rule/);
    expect(() => table.add({ id: 'bad', priority: 1, enabled: true, when: { field: 'x', op: 'regex', value: '[' }, topics: ['t'] })).toThrow(/"bad"/);
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

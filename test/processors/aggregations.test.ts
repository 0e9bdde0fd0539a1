import { DEFAULT_AGGREGATORS } from '../../processors/AggregationSpecs.js';
import type { LearningEvent } from '../../processors/LandingEvent.js';
import { addWindowedAggregations, AggregationQueryError, allAggregateRows, queryAggregation, type AggregateRow, type AggregatorHandle } from '../../processors/WindowedAggregations.js';
import { StreamsBuilder } from '../../topology/index.js';
import { afterCommitWhen, jsonValues, readAll } from '../support/streams.js';
import { enrichedEvent as ev, harness, type Harness } from './support.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const H = Date.UTC(2024, 0, 15, 10); // an hour window start
const DAY0 = Date.UTC(2024, 0, 15);

const attempt = (user: string, t: number, item: string, correct: boolean, ms: number, j?: string) => ev('attempt', user, t, { item_id: item, correct, time_taken_ms: ms }, j);

describe('windowed aggregations', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await harness('aggregations');
    // One partition: records reach every aggregation (also through repartition topics) in offset
    // order, so which record is late is exact. Across partitions it depends on interleaving.
    await h.log.ensureTopic('events', { partitions: 1 });
  });

  afterAll(async () => {
    await h.close();
  });

  const events: LearningEvent[] = [
    attempt('u1', H + 1 * MIN, 'i1', true, 1000, 'DE'),
    attempt('u1', H + 2 * MIN, 'i1', false, 3000, 'DE'),
    attempt('u2', H + 3 * MIN, 'i1', true, 2000),
    attempt('u1', H + 4 * MIN, 'i2', true, 2000, 'DE'),
    ev('product', 'u1', H + 5 * MIN, { event_name: 'view', channel: 'web' }, 'DE'),
    ev('product', 'u2', H + 6 * MIN, { event_name: 'view', channel: 'web' }),
    ev('product', 'u1', H + 7 * MIN, { event_name: 'view', channel: 'web' }, 'DE'),
    ev('product', 'u2', H + 8 * MIN, { event_name: 'view', channel: 'mobile' }),
    ev('session', 'u1', H + 20 * MIN, { items_attempted: 10, correct_count: 7, total_time_ms: 600_000 }, 'DE'),
    ev('session', 'u1', H + 40 * MIN, { items_attempted: 4, correct_count: 4, start_time: '2024-01-15T10:30:00Z', end_time: '2024-01-15T10:40:00Z' }, 'DE'),
    // Advances stream time for u1's partition, item i1, the system key and jurisdiction DE.
    attempt('u1', H + 3 * HOUR, 'i1', true, 500, 'DE'),
    // Out of order but its hour window closed (end + 5 min grace < stream time): late.
    attempt('u1', H + 10 * MIN, 'i1', true, 500, 'DE'),
  ];

  let handles: AggregatorHandle[];
  let rows: AggregateRow[];

  beforeAll(async () => {
    // Key = user id; each record in its own produce call so the order above is the offset order.
    for (const e of events) await h.log.produce([{ topic: 'events', key: Buffer.from(e.user_id), value: Buffer.from(JSON.stringify(e)), timestamp: e.event_time }]);
    const builder = new StreamsBuilder();
    handles = addWindowedAggregations(builder.stream<string, LearningEvent>('events'), DEFAULT_AGGREGATORS, {
      topic: 'aggregates',
      graceMs: 5 * MIN,
      overrides: { user_daily_sessions: { emit: 'onWindowClose' } },
    });
    const app = await h.run(builder, ['events', ...handles.filter((x) => x.spec.keyOf).map((x) => `aggregations-${x.spec.name}-by-key-repartition`)]);
    expect(app.state).toBe('RUNNING');
    rows = jsonValues<AggregateRow>(await readAll(h.log, 'aggregates'));
  });

  const query = (aggregator: string, key: string, from?: number, to?: number) => queryAggregation(h.app!, { aggregator, key, from, to }, handles);
  /** The last emitted row per (aggregator, key, window): what a ReplacingMergeTree keeps. */
  const lastRow = (aggregator: string, key: string, windowStart: number) => rows.filter((r) => r.aggregator === aggregator && r.key === key && r.window_start === windowStart).pop();

  test('user hourly attempts: count, accuracy, mean response time; the late record changes nothing and is counted', async () => {
    const [window] = query('user_hourly_attempts', 'user:u1', H, H);
    expect(window).toEqual({ aggregator: 'user_hourly_attempts', key: 'user:u1', window_start: H, window_end: H + HOUR, count: 3, correct: 2, accuracy: 0.6667, mean_response_time_ms: 2000, sum: 6000, min: 1000, max: 3000 });
    expect(query('user_hourly_attempts', 'u1').map((r) => r.window_start)).toEqual([H, H + 3 * HOUR]);
    expect(lastRow('user_hourly_attempts', 'user:u1', H)).toEqual(window);
    expect(await h.outcome(handles[0]!.processorName!, 'late')).toBe(1);
  });

  test('item hourly performance goes through a repartition by item id', async () => {
    expect(query('item_hourly_performance', 'item:i1', H, H)).toEqual([expect.objectContaining({ count: 3, correct: 2, accuracy: 0.6667, mean_response_time_ms: 2000 })]);
    expect(query('item_hourly_performance', 'item:i2')).toEqual([expect.objectContaining({ count: 1, correct: 1 })]);
    const item = handles.find((x) => x.spec.name === 'item_hourly_performance')!;
    expect(await h.outcome(item.processorName!, 'late')).toBe(1);
  });

  test('user daily sessions, emitted on window close: no row yet for the open day, queryable all the same', () => {
    expect(query('user_daily_sessions', 'user:u1')).toEqual([
      expect.objectContaining({ window_start: DAY0, window_end: DAY0 + 24 * HOUR, count: 2, items_attempted: 14, correct_count: 11, total_duration_ms: 1_200_000, mean_duration_ms: 600_000 }),
    ]);
    expect(rows.filter((r) => r.aggregator === 'user_daily_sessions')).toEqual([]);
  });

  test('system throughput in hopping 5-minute windows advancing by a minute', () => {
    const windows = query('system_5m_throughput', 'system', H, H + 10 * MIN);
    // Attempts at H+1..H+4 min, views at H+5..H+8 (sessions at H+20, H+40).
    const at = (start: number) => windows.find((w) => w.window_start === start);
    expect(at(H + 5 * MIN)).toMatchObject({ count: 4, by_type: { product: 4 } });
    expect(at(H)).toMatchObject({ count: 4, by_type: { attempt: 4 } });
    expect(at(H + 4 * MIN)).toMatchObject({ count: 5, by_type: { attempt: 1, product: 4 }, events_per_second: 0.017 });
  });

  test('jurisdiction daily statistics with exact unique users; users without a profile count as unknown', () => {
    expect(query('jurisdiction_daily_stats', 'jurisdiction:DE')).toEqual([
      // u1's attempts (incl. the one 3 h later and the late one: the day window is still open), sessions, views.
      expect.objectContaining({ window_start: DAY0, count: 9, attempts: 5, correct: 4, accuracy: 0.8, sessions: 2, unique_users: 1 }),
    ]);
    expect(query('jurisdiction_daily_stats', 'jurisdiction:unknown')).toEqual([expect.objectContaining({ count: 3, attempts: 1, unique_users: 1 })]);
  });

  test('seed 004 event_name × channel × hour with unique users', () => {
    expect(query('event_channel_hourly', 'view|web')).toEqual([expect.objectContaining({ window_start: H, count: 3, unique_users: 2, event_name: 'view', channel: 'web' })]);
    expect(query('event_channel_hourly', 'view|mobile')).toEqual([expect.objectContaining({ count: 1, unique_users: 1 })]);
    expect(lastRow('event_channel_hourly', 'view|web', H)).toMatchObject({ count: 3, unique_users: 2 });
  });

  test('unknown aggregators and inverted ranges are refused', () => {
    expect(() => query('nope', 'x')).toThrow(AggregationQueryError);
    expect(() => query('user_hourly_attempts', 'u1', 10, 5)).toThrow(/after/);
    expect(query('user_hourly_attempts', 'user:nobody')).toEqual([]);
  });
});

describe('buffered emission', () => {
  test('emits the latest row per window once per interval: fewer rows, the same final values', async () => {
    const h = await harness('aggregations-buffered');
    try {
      await h.log.ensureTopic('events', { partitions: 2 });
      const events = Array.from({ length: 400 }, (_, i) => attempt(`u${i % 4}`, H + i * 1000, `i${i % 3}`, i % 3 !== 0, 1000 + i));
      await h.log.produce(events.map((e) => ({ topic: 'events', key: Buffer.from(e.user_id), value: Buffer.from(JSON.stringify(e)), timestamp: e.event_time })));
      const builder = new StreamsBuilder();
      const handles = addWindowedAggregations(builder.stream<string, LearningEvent>('events'), DEFAULT_AGGREGATORS, { topic: 'aggregates', graceMs: HOUR, emit: 'buffered', emitIntervalMs: 20 });
      const app = await h.run(builder, ['events', ...handles.filter((x) => x.spec.keyOf).map((x) => `aggregations-buffered-${x.spec.name}-by-key-repartition`)]);
      const stored = () => new Map(allAggregateRows(app, handles).map((r) => [`${r.aggregator}|${r.key}|${r.window_start}`, r]));
      let emitted: AggregateRow[] = [];
      await afterCommitWhen(app, async () => {
        emitted = jsonValues<AggregateRow>(await readAll(h.log, 'aggregates'));
        const last = new Map(emitted.map((r) => [`${r.aggregator}|${r.key}|${r.window_start}`, r]));
        const expected = stored();
        return last.size === expected.size && [...expected].every(([id, row]) => JSON.stringify(last.get(id)) === JSON.stringify(row));
      });
      expect(stored().get(`user_hourly_attempts|user:u0|${H}`)).toMatchObject({ count: 100 });
      // onUpdate would have emitted a row per event and window: 400 × (1 + 1 + 5 + 1) = 3200.
      expect(emitted.length).toBeLessThan(1600);
      expect(await h.outcome(handles[0]!.spec.name + '-buffer', 'emitted')).toBe(emitted.filter((r) => r.aggregator === 'user_hourly_attempts').length);
    } finally {
      await h.close();
    }
  });
});

describe('aggregate values', () => {
  // The stored and emitted JSON of an aggregate keeps its fields in init's order, whatever the adder builds it from.
  test('attempt stats and throughput add to the same JSON as before, timed or not, new type or not', () => {
    const attempts = DEFAULT_AGGREGATORS.find((spec) => spec.name === 'user_hourly_attempts')!;
    let stats = attempts.init();
    stats = attempts.add(stats, { correct: true, ms: null }, false);
    expect(JSON.stringify(stats)).toBe('{"count":1,"correct":1,"timed":0,"sum":0,"min":null,"max":null}');
    stats = attempts.add(stats, { correct: false, ms: 900 }, false);
    stats = attempts.add(stats, { correct: true, ms: 300 }, false);
    expect(JSON.stringify(stats)).toBe('{"count":3,"correct":2,"timed":2,"sum":1200,"min":300,"max":900}');

    const throughput = DEFAULT_AGGREGATORS.find((spec) => spec.name === 'system_5m_throughput')!;
    const before = throughput.add(throughput.add(throughput.init(), 'session', false), 'attempt', false);
    const after = throughput.add(before, 'session', false);
    expect(JSON.stringify(after)).toBe('{"count":3,"by_type":{"session":2,"attempt":1}}');
    // Pure: the aggregate it was given is unchanged.
    expect(JSON.stringify(before)).toBe('{"count":2,"by_type":{"session":1,"attempt":1}}');
  });
});

describe('aggregate rows', () => {
  test('jurisdiction rows list the aggregate fields in order, then accuracy and unique users', () => {
    const jurisdiction = DEFAULT_AGGREGATORS.find((spec) => spec.name === 'jurisdiction_daily_stats')!;
    const aggregate = { count: 4, attempts: 3, correct: 2, sessions: 1, placements: 0, users: 2 };
    expect(JSON.stringify(jurisdiction.row(aggregate))).toBe('{"count":4,"attempts":3,"correct":2,"sessions":1,"placements":0,"users":2,"accuracy":0.6667,"unique_users":2}');
  });
});

import { DEFAULT_AGGREGATORS, type AggregatorSpec } from '../../processors/AggregationSpecs.js';
import { buildDefaultPipeline } from '../../processors/DefaultPipeline.js';
import { readPipelineConfig } from '../../processors/PipelineConfig.js';
import type { LearningEvent } from '../../processors/LandingEvent.js';
import { addWindowedAggregations, allAggregateRows, type AggregateRow, type AggregatorHandle } from '../../processors/WindowedAggregations.js';
import { Registry } from 'prom-client';
import { StreamsApp, StreamsBuilder } from '../../topology/index.js';
import { jsonValues, readAll, waitForCaughtUp } from '../support/streams.js';
import { enrichedEvent as ev, harness, type Harness } from './support.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const H = Date.UTC(2024, 0, 15, 10);
const REPARTITIONED = DEFAULT_AGGREGATORS.filter((spec) => spec.keyOf).map((spec) => spec.name);

function lcg(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

/**
 * A random mix of every kind the aggregators select, over 60 users (a fifth without a profile:
 * jurisdiction unknown) and 3 hours, up to 10 minutes out of order; integer response times, so
 * sums do not depend on the order they are added in.
 */
function randomEvents(seed: number, count: number): LearningEvent[] {
  const random = lcg(seed);
  const pick = <T>(values: T[]) => values[Math.floor(random() * values.length)]!;
  const events: LearningEvent[] = [];
  for (let i = 0; i < count; i++) {
    const u = Math.floor(random() * 60);
    const user = `u${u}`;
    const jurisdiction = u % 5 === 0 ? undefined : pick(['DE', 'US', 'IN']);
    const t = H + Math.floor((i / count) * 3 * HOUR) - Math.floor(random() * 10 * MIN);
    const r = random();
    if (r < 0.5) events.push(ev('attempt', user, t, { item_id: `i${Math.floor(random() * 15)}`, correct: random() < 0.6, time_taken_ms: 500 + Math.floor(random() * 5000) }, jurisdiction));
    else if (r < 0.6) events.push(ev('session', user, t, { items_attempted: 10, correct_count: Math.floor(random() * 10), total_time_ms: 60_000 }, jurisdiction));
    else if (r < 0.65) events.push(ev('placement', user, t, {}, jurisdiction));
    else events.push(ev('product', user, t, { event_name: pick(['view', 'click', 'purchase']), channel: pick(['web', 'mobile']) }, jurisdiction));
  }
  return events;
}

/** Keyed by user id, in order; partitionOf places users explicitly (default: by the key's hash). */
async function produce(h: Harness, events: LearningEvent[], partitions: number, partitionOf?: (event: LearningEvent) => number): Promise<void> {
  await h.log.ensureTopic('events', { partitions });
  for (let i = 0; i < events.length; i += 200) {
    await h.log.produce(
      events.slice(i, i + 200).map((e) => ({ topic: 'events', partition: partitionOf?.(e), key: Buffer.from(e.user_id), value: Buffer.from(JSON.stringify(e)), timestamp: e.event_time })),
    );
  }
}

interface Run {
  handles: AggregatorHandle[];
  stored: AggregateRow[];
  emitted: AggregateRow[];
  late: Record<string, number>;
}

/** The six default aggregators over `events` on `partitions` partitions, emitting a row per update. */
async function run(
  prefix: string,
  events: LearningEvent[],
  options: { preaggregate: boolean; partitions: number; graceMs: number; specs?: AggregatorSpec[]; partitionOf?: (event: LearningEvent) => number },
): Promise<Run> {
  const h = await harness(prefix);
  try {
    await produce(h, events, options.partitions, options.partitionOf);
    const builder = new StreamsBuilder();
    const handles = addWindowedAggregations(builder.stream<string, LearningEvent>('events'), options.specs ?? DEFAULT_AGGREGATORS, {
      topic: 'aggregates',
      graceMs: options.graceMs,
      emit: 'onUpdate',
      preaggregate: options.preaggregate,
    });
    // Small polls: a commit after every 50 records or so, so a window gets partials from many commits.
    h.registry = new Registry();
    const app = new StreamsApp(builder.build(), h.log, { applicationId: prefix, stateDir: `${h.dir}/state`, dlqTopic: 'dlq.events', registry: h.registry, commitIntervalMs: 1, maxPollRecords: 50 });
    h.app = app;
    await app.start();
    await waitForCaughtUp(app, h.log, prefix, ['events', ...handles.filter((x) => x.spec.keyOf).map((x) => `${prefix}-${x.spec.name}-by-key-repartition`)], 120_000);
    const late: Record<string, number> = {};
    for (const handle of handles) late[handle.spec.name] = await h.outcome(handle.processorName!, 'late');
    return { handles, stored: sortRows(allAggregateRows(app, handles)), emitted: jsonValues<AggregateRow>(await readAll(h.log, 'aggregates')), late };
  } finally {
    await h.close();
  }
}

const rowId = (row: AggregateRow) => `${row.aggregator}|${row.key}|${row.window_start}`;
const sortRows = (rows: AggregateRow[]) => [...rows].sort((a, b) => (rowId(a) < rowId(b) ? -1 : rowId(a) > rowId(b) ? 1 : 0));

/** The last row emitted per window: what the ClickHouse table keeps. */
function finalRows(rows: AggregateRow[]): AggregateRow[] {
  return sortRows([...new Map(rows.map((row) => [rowId(row), row])).values()]);
}

const rowsOf = (rows: AggregateRow[], aggregator: string) => rows.filter((row) => row.aggregator === aggregator);

describe('pre-aggregation before the repartition topics', () => {
  // No event is late in either path (grace longer than the stream): the two must agree exactly.
  test.each([1, 2, 3])('partials merged downstream equal per-event aggregation: every window, row and unique-user count (seed %i, 3 partitions)', async (seed) => {
    const events = randomEvents(seed, 1500);
    const perEvent = await run(`per-event-${seed}`, events, { preaggregate: false, partitions: 3, graceMs: 24 * HOUR });
    const partials = await run(`partials-${seed}`, events, { preaggregate: true, partitions: 3, graceMs: 24 * HOUR });

    expect(partials.handles.filter((x) => x.preaggregated).map((x) => x.spec.name)).toEqual(REPARTITIONED);
    expect(perEvent.handles.some((x) => x.preaggregated)).toBe(false);
    // The input has what the comparison is about: several windows per aggregator, users seen in many partials.
    for (const name of REPARTITIONED) expect(rowsOf(perEvent.stored, name).length).toBeGreaterThan(2);
    expect(rowsOf(perEvent.stored, 'jurisdiction_daily_stats').map((row) => row.unique_users)).toEqual([expect.any(Number), expect.any(Number), expect.any(Number), expect.any(Number)]);

    expect(partials.stored).toEqual(perEvent.stored);
    expect(finalRows(partials.emitted)).toEqual(finalRows(perEvent.emitted));
    expect(finalRows(partials.emitted)).toEqual(partials.stored);
    // onUpdate now emits a row per partial and window, not per event and window: fewer rows, yet
    // several partials per window (from several commits), or distinct counting across them is not tested.
    for (const name of REPARTITIONED) {
      expect(rowsOf(partials.emitted, name).length).toBeLessThan(rowsOf(perEvent.emitted, name).length);
      expect(rowsOf(partials.emitted, name).length).toBeGreaterThan(3 * rowsOf(partials.stored, name).length);
    }
    // Aggregators without a repartition are untouched: the same rows, row for row.
    for (const name of ['user_hourly_attempts', 'user_daily_sessions']) expect(rowsOf(partials.emitted, name).length).toBe(rowsOf(perEvent.emitted, name).length);
    expect(Object.values(partials.late).every((late) => late === 0)).toBe(true);
  }, 180_000);

  test('unique users are exact when a user appears in many partials and windows on several partitions', async () => {
    // 8 users, two per partition, each active all through two hours.
    const users = Array.from({ length: 8 }, (_, i) => `user-${i}`);
    const events: LearningEvent[] = [];
    for (let i = 0; i < 1200; i++) events.push(ev('product', users[i % 8]!, H + i * 6000, { event_name: 'view', channel: 'web' }, i % 16 < 8 ? 'DE' : 'US'));
    const { stored, emitted } = await run('distinct', events, { preaggregate: true, partitions: 4, graceMs: HOUR, partitionOf: (e) => Number(e.user_id.slice(5)) % 4 });
    const hours = rowsOf(stored, 'event_channel_hourly');
    expect(hours.map((row) => [row.window_start, row.count, row.unique_users])).toEqual([
      [H, 600, 8],
      [H + HOUR, 600, 8],
    ]);
    // Users 0-7 alternate jurisdiction every 8 events: each is in both, on the same day.
    expect(rowsOf(stored, 'jurisdiction_daily_stats').map((row) => [row.key, row.count, row.unique_users])).toEqual([
      ['jurisdiction:DE', 600, 8],
      ['jurisdiction:US', 600, 8],
    ]);
    // Partials of many commits reached each window (a row per partial), yet unique users never passed 8.
    const rows = rowsOf(emitted, 'event_channel_hourly').filter((row) => row.window_start === H);
    expect(rows.length).toBeGreaterThan(10);
    expect(Math.max(...rows.map((row) => row.unique_users as number))).toBe(8);
  }, 120_000);

  test('lateness is judged before the repartition by each partition\'s own stream time, and counted there', async () => {
    const item = DEFAULT_AGGREGATORS.find((spec) => spec.name === 'item_hourly_performance')!;
    // user "ahead" (partition of its own) runs 3 hours ahead; user "behind", on another partition, sends
    // an event of the first hour after that: on time for its partition, so counted, whatever order
    // the repartition topic interleaves them in. Then "ahead" sends one of the first hour: late there.
    const ahead = 'user-a';
    const behind = 'user-b';
    const events = [
      ev('attempt', ahead, H + 1 * MIN, { item_id: 'i1', correct: true, time_taken_ms: 1000 }),
      ev('attempt', ahead, H + 3 * HOUR, { item_id: 'i1', correct: true, time_taken_ms: 1000 }),
      ev('attempt', behind, H + 2 * MIN, { item_id: 'i1', correct: false, time_taken_ms: 3000 }),
      ev('attempt', ahead, H + 3 * MIN, { item_id: 'i1', correct: true, time_taken_ms: 1000 }),
    ];
    const h = await harness('lateness');
    try {
      await h.log.ensureTopic('events', { partitions: 2 });
      // Explicit partitions: the two users apart whatever their keys hash to.
      for (const e of events) await h.log.produce([{ topic: 'events', partition: e.user_id === ahead ? 0 : 1, key: Buffer.from(e.user_id), value: Buffer.from(JSON.stringify(e)), timestamp: e.event_time }]);
      const builder = new StreamsBuilder();
      const [handle] = addWindowedAggregations(builder.stream<string, LearningEvent>('events'), [item], { topic: 'aggregates', graceMs: 5 * MIN, emit: 'onUpdate' });
      expect(handle!.preaggregated).toBe(true);
      expect(handle!.processorName).toBe('item_hourly_performance-preaggregate');
      const app = await h.run(builder, ['events', 'lateness-item_hourly_performance-by-key-repartition']);
      const stored = allAggregateRows(app, [handle!]);
      expect(stored.find((row) => row.window_start === H)).toMatchObject({ count: 2, correct: 1, min: 1000, max: 3000 });
      expect(stored.find((row) => row.window_start === H + 3 * HOUR)).toMatchObject({ count: 1 });
      expect(await h.outcome('item_hourly_performance-preaggregate', 'late')).toBe(1);
    } finally {
      await h.close();
    }
  }, 60_000);

  test('a partial for a window the merging store has already expired emits no row, so it cannot replace the window\'s row downstream', async () => {
    const item = DEFAULT_AGGREGATORS.find((spec) => spec.name === 'item_hourly_performance')!;
    // Retention one hour (+ grace): once user "ahead" reaches H+3h, the merge store drops window H.
    // User "behind", on another partition, then sends an event of window H: on time for its own
    // partition, so its partial reaches the merge after window H has expired there.
    const ahead = 'user-a';
    const behind = 'user-b';
    const attempt = (user: string, t: number, correct: boolean) => ev('attempt', user, t, { item_id: 'i1', correct, time_taken_ms: 1000 });
    const h = await harness('expired-window');
    const send = (events: LearningEvent[]) =>
      h.log.produce(events.map((e) => ({ topic: 'events', partition: e.user_id === ahead ? 0 : 1, key: Buffer.from(e.user_id), value: Buffer.from(JSON.stringify(e)), timestamp: e.event_time })));
    try {
      await h.log.ensureTopic('events', { partitions: 2 });
      await send([attempt(ahead, H + 1 * MIN, true), attempt(ahead, H + 2 * MIN, true), attempt(ahead, H + 3 * HOUR, true)]);
      const builder = new StreamsBuilder();
      const [handle] = addWindowedAggregations(builder.stream<string, LearningEvent>('events'), [item], {
        topic: 'aggregates',
        graceMs: 5 * MIN,
        emit: 'onUpdate',
        overrides: { item_hourly_performance: { retentionMs: HOUR } },
      });
      const inputs = ['events', 'expired-window-item_hourly_performance-by-key-repartition'];
      const app = await h.run(builder, inputs);
      const lastRowOfH = async () => finalRows(jsonValues<AggregateRow>(await readAll(h.log, 'aggregates'))).find((row) => row.window_start === H);
      expect(await lastRowOfH()).toMatchObject({ count: 2, correct: 2 });

      await send([attempt(behind, H + 4 * MIN, false)]);
      await waitForCaughtUp(app, h.log, 'expired-window', inputs);
      // The partial was on time upstream (not late there), but window H is gone downstream:
      // counted there, and the row the sink keeps for window H is still the full one.
      expect(await lastRowOfH()).toMatchObject({ count: 2, correct: 2 });
      expect(await h.outcome('item_hourly_performance-preaggregate', 'late')).toBe(0);
      expect(await h.outcome('item_hourly_performance-merge', 'expired')).toBe(1);
      expect(allAggregateRows(app, [handle!]).map((row) => [row.window_start, row.count])).toEqual([[H + 3 * HOUR, 1]]);
    } finally {
      await h.close();
    }
  }, 60_000);

  test('hopping windows: an event late for its oldest windows still goes into the open ones, counted late once', async () => {
    const system = DEFAULT_AGGREGATORS.find((spec) => spec.name === 'system_5m_throughput')!;
    // Stream time H+10min with no grace: the windows [H+5, H+10) and older are closed; an event at
    // H+7min still belongs to the open [H+6, H+11) and [H+7, H+12).
    const events = [ev('attempt', 'u', H + 10 * MIN, { item_id: 'i' }), ev('attempt', 'u', H + 7 * MIN + 30_000, { item_id: 'i' })];
    const h = await harness('hopping-late');
    try {
      await h.log.ensureTopic('events', { partitions: 1 });
      for (const e of events) await h.log.produce([{ topic: 'events', key: Buffer.from(e.user_id), value: Buffer.from(JSON.stringify(e)), timestamp: e.event_time }]);
      const builder = new StreamsBuilder();
      const [handle] = addWindowedAggregations(builder.stream<string, LearningEvent>('events'), [system], { topic: 'aggregates', graceMs: 0, emit: 'onUpdate' });
      const app = await h.run(builder, ['events', 'hopping-late-system_5m_throughput-by-key-repartition']);
      const counts = Object.fromEntries(allAggregateRows(app, [handle!]).map((row) => [(row.window_start - H) / MIN, row.count]));
      expect(counts).toEqual({ 6: 2, 7: 2, 8: 1, 9: 1, 10: 1 });
      expect(await h.outcome('system_5m_throughput-preaggregate', 'late')).toBe(1);
    } finally {
      await h.close();
    }
  }, 60_000);

  test('AGGREGATION_PREAGGREGATE=false puts the default pipeline back on the per-event path; an unreadable value is refused', () => {
    const preaggregated = (env: Record<string, string>) => {
      const pipeline = buildDefaultPipeline(new StreamsBuilder(), readPipelineConfig(env));
      pipeline.close();
      return pipeline.aggregations.filter((x) => x.preaggregated).map((x) => x.spec.name);
    };
    expect(preaggregated({})).toEqual(REPARTITIONED);
    expect(preaggregated({ AGGREGATION_PREAGGREGATE: 'false' })).toEqual([]);
    expect(preaggregated({ AGGREGATION_EMIT: 'onWindowClose' })).toEqual([]);
    expect(() => readPipelineConfig({ AGGREGATION_PREAGGREGATE: 'sometimes' })).toThrow(/AGGREGATION_PREAGGREGATE/);
  });

  test('onWindowClose, and aggregators without a merge, stay on the per-event path', () => {
    const builder = new StreamsBuilder();
    const withoutMerge = { ...DEFAULT_AGGREGATORS.find((spec) => spec.name === 'item_hourly_performance')!, name: 'no_merge', merge: undefined };
    const handles = addWindowedAggregations(builder.stream<string, LearningEvent>('events'), [...DEFAULT_AGGREGATORS, withoutMerge], {
      topic: 'aggregates',
      overrides: { system_5m_throughput: { emit: 'onWindowClose' } },
    });
    expect(Object.fromEntries(handles.map((x) => [x.spec.name, x.preaggregated]))).toEqual({
      user_hourly_attempts: false,
      user_daily_sessions: false,
      item_hourly_performance: true,
      system_5m_throughput: false,
      jurisdiction_daily_stats: true,
      event_channel_hourly: true,
      no_merge: false,
    });
  });
});

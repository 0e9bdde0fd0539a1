import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { startAnalytics, type AnalyticsRuntime } from '../../sink/index.js';
import { envelope, generateEvents } from './generate.js';
import { tempDir } from '../support/temp-dir.js';
import { waitFor } from './FlakyStore.js';

const iso = (ms: number) => new Date(ms).toISOString();
const chTime = (ms: number) => iso(ms).slice(0, 23).replace('T', ' ');

describe('startAnalytics: store from env, migrations, default routes, analytics adapter, readiness', () => {
  const dir = tempDir('start');
  let log: EmbeddedLog;
  let runtime: AnalyticsRuntime;

  beforeAll(async () => {
    log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
    await log.ensureTopic('events.raw', { partitions: 2 });
    await log.ensureTopic('processor.aggregates', { partitions: 1 });
  });
  afterAll(async () => {
    await runtime?.stop();
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('every kind of landing record reaches its table and seed 004 answers through the adapter', async () => {
    const now = Date.now();
    const products = generateEvents(300, now, 2, 11);
    const learning = [
      { v: 1, event_id: 'att-1', event_type: 'attempt', source: 'seed000', received_at: now, payload: { user_id: 'u1', item_id: 'i1', session_id: 's1', client_attempt_id: 'att-1', selected: 'b', correct: true, quality: 4, confidence: 3, time_taken_ms: 5000, hints_used: 0, device_type: 'mobile', app_version: '1.0.0' } },
      { v: 1, event_id: 's-1', event_type: 'session', source: 'seed000', received_at: now, payload: { session_id: 's-1', user_id: 'u1', start_time: iso(now - 1_800_000), end_time: iso(now), items_attempted: 20, correct_count: 16, total_time_ms: 1800000, session_type: 'practice', topics_practiced: ['traffic_signs'], average_difficulty: 0.65 } },
      { v: 1, event_id: 'p-1', event_type: 'placement', source: 'seed000', received_at: now, payload: { placement_id: 'p-1', user_id: 'u2', items_administered: 15, overall_accuracy: 0.73, was_completed: true, end_reason: 'completed_normally', results: { ability_estimates: { a: 1 } } } },
    ];
    await log.produce([
      ...products.map((e) => ({ topic: 'events.raw', key: Buffer.from(e.user_id), value: Buffer.from(JSON.stringify(envelope(e))) })),
      ...learning.map((e) => ({ topic: 'events.raw', key: Buffer.from('u1'), value: Buffer.from(JSON.stringify(e)) })),
      { topic: 'events.raw', key: null, value: Buffer.from('not json') },
      { topic: 'processor.aggregates', key: null, value: Buffer.from(JSON.stringify({ aggregator: 'attempts_per_user', key: 'u1', window_start: now - 60_000, window_end: now, count: 3, accuracy: 0.5 })) },
    ]);

    runtime = await startAnalytics({
      env: { SINK_BATCH_LINGER: '20ms' },
      dataDir: dir,
      log,
      registry: new Registry(),
      logger: pino({ level: 'silent' }),
      topics: { rawEvents: 'events.raw', aggregates: 'processor.aggregates' },
    });
    expect(runtime.store.kind).toBe('chdb');
    expect(fs.existsSync(path.join(dir, 'chdb'))).toBe(true);
    await waitFor('all topics to be committed', async () => {
      const tps = [{ topic: 'events.raw', partition: 0 }, { topic: 'events.raw', partition: 1 }, { topic: 'processor.aggregates', partition: 0 }];
      const committed = await log.committedOffsets('clickhouse-sink', tps);
      for (const tp of tps) if ((committed.get(`${tp.topic}:${tp.partition}`) ?? 0) < (await log.endOffset(tp))) return false;
      return true;
    });
    expect(await runtime.readiness.check()).toBe(true);

    const q = <T>(sql: string) => runtime.store.query<T>(sql);
    expect(await q('SELECT count() AS n FROM events_db.events_raw')).toEqual([{ n: 303 }]);
    expect(await q("SELECT client_attempt_id, user_id, correct, quality, time_taken_ms, device_type FROM events_db.attempts")).toEqual([
      { client_attempt_id: 'att-1', user_id: 'u1', correct: true, quality: 4, time_taken_ms: 5000, device_type: 'mobile' },
    ]);
    expect(await q("SELECT session_id, start_time, end_time, items_attempted, topics_practiced, average_difficulty FROM events_db.sessions")).toEqual([
      { session_id: 's-1', start_time: chTime(now - 1_800_000), end_time: chTime(now), items_attempted: 20, topics_practiced: ['traffic_signs'], average_difficulty: 0.65 },
    ]);
    expect(await q("SELECT placement_id, was_completed, overall_accuracy, results FROM events_db.placements")).toEqual([
      { placement_id: 'p-1', was_completed: true, overall_accuracy: 0.73, results: '{"ability_estimates":{"a":1}}' },
    ]);
    expect(await q('SELECT aggregator, key, count, toUnixTimestamp64Milli(window_end) AS end_ms, fields FROM events_db.window_aggregates FINAL')).toEqual([
      { aggregator: 'attempts_per_user', key: 'u1', count: 3, end_ms: now, fields: '{"accuracy":0.5}' },
    ]);

    const answer = await runtime.analytics({ event_name: 'purchase', group_by: 'hour' });
    expect(answer.statusCode).toBe(200);
    expect((answer.body as { total_events: number }).total_events).toBe(products.filter((e) => e.event_name === 'purchase').length);
    expect((await runtime.analytics({ event_name: 'purchase', group_by: 'week' })).statusCode).toBe(400);

    await runtime.sink.stop();
    expect(await runtime.readiness.check()).toBe(false);
  });
});

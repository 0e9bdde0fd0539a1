/**
 * The server sink path's exactly-once across SIGKILL, through @clickhouse/client over real HTTP to
 * the ClickHouse engine (chDB behind test/support/chdb-http-server.ts, its own process that
 * outlives the killed sinks, as a server would): a sink child killed after a batch is in
 * ClickHouse and before its offsets are committed, twice (the second restart with other batch
 * settings, so only the recorded cuts in sink_batches rebuild the replayed batch), then run to
 * the end. Rows, the materialized view's totals and seed 004's answers are exact.
 */
import fs from 'node:fs';
import path from 'node:path';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import { ClickHouseServerStore } from '../../sink/ClickHouseServerStore.js';
import { queryEventMetrics } from '../../sink/EventMetricsQuery.js';
import { startChdbHttpProcess, type ChdbHttpProcess } from '../support/chdb-http-process.js';
import { runFixture } from './child.js';
import { envelope, EVENT_NAMES, expectedMetrics, generateEvents, tempDir } from './generate.js';

const TOPIC = 'events.raw';
const GROUP = 'server-crash-sink';
const PARTITIONS = 3;
const COUNT = 6000;

describe('a server-path sink SIGKILLed between the ClickHouse insert and the offset commit', () => {
  const dir = tempDir('server-crash');
  const now = Date.now();
  const events = generateEvents(COUNT, now, 30, 123);
  const tps = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: TOPIC, partition }));
  let server: ChdbHttpProcess;
  const env = (extra: Record<string, string>) => ({ SINK_DIR: dir, SINK_TOPIC: TOPIC, SINK_GROUP: GROUP, SINK_CLICKHOUSE_URL: server.url, ...extra });

  beforeAll(async () => {
    server = await startChdbHttpProcess(path.join(dir, 'chdb'));
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function inspect() {
    const log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
    const committed = [...(await log.committedOffsets(GROUP, tps)).values()].reduce((a, b) => a + b, 0);
    await log.close();
    const store = await ClickHouseServerStore.open({ url: server.url, database: 'events_db' });
    try {
      const one = async (sql: string) => Number((await store.query<{ n: number }>(sql))[0]!.n);
      const counts = {
        raw: await one('SELECT count() AS n FROM events_db.events_raw'),
        distinct: await one('SELECT uniqExact(event_id) AS n FROM events_db.events_raw'),
        mv: await one('SELECT toUInt64(sum(total_events)) AS n FROM events_db.event_metrics_hourly'),
      };
      const metrics = [];
      for (const event_name of EVENT_NAMES) {
        for (const group_by of ['channel', 'hour'] as const) {
          metrics.push(await queryEventMetrics(store, { event_name, from: Math.floor(now / 1000) - 31 * 3600, to: Math.floor(now / 1000), group_by }));
        }
      }
      return { committed, counts, metrics };
    } finally {
      await store.close();
    }
  }

  test('restarts leave every count exact', async () => {
    const log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
    await log.ensureTopic(TOPIC, { partitions: PARTITIONS });
    await log.produce(events.map((e) => ({ topic: TOPIC, key: Buffer.from(e.user_id), value: Buffer.from(JSON.stringify(envelope(e))) })));
    await log.close();

    const first = await runFixture('server-sink-child.ts', env({ SINK_CRASH_AFTER_BATCHES: '3', SINK_MAX_BATCH: '500', SINK_LINGER_MS: '20' }), { timeoutMs: 120_000 });
    expect(first.signal).toBe('SIGKILL');
    expect(first.stdout).toMatch(/CRASHING .+:\d:\d+-\d+/);
    const afterCrash = await inspect();
    // The kill hit the window: ClickHouse holds more rows than the committed offsets account for.
    expect(afterCrash.counts.raw).toBeGreaterThan(afterCrash.committed);
    expect(afterCrash.counts.raw).toBe(afterCrash.counts.distinct);

    const second = await runFixture('server-sink-child.ts', env({ SINK_CRASH_AFTER_BATCHES: '5', SINK_MAX_BATCH: '300', SINK_LINGER_MS: '1' }), { timeoutMs: 120_000 });
    expect(second.signal).toBe('SIGKILL');
    const afterSecond = await inspect();
    expect(afterSecond.counts.raw).toBeGreaterThan(afterSecond.committed);
    expect(afterSecond.counts.raw).toBe(afterSecond.counts.distinct);

    const third = await runFixture('server-sink-child.ts', env({ SINK_MAX_BATCH: '800', SINK_LINGER_MS: '50' }), { timeoutMs: 120_000 });
    expect(third.stderr).toBe('');
    expect(third.code).toBe(0);
    expect(third.stdout).toContain('DONE');

    const final = await inspect();
    expect(final.committed).toBe(COUNT);
    expect(final.counts).toEqual({ raw: COUNT, distinct: COUNT, mv: COUNT });
    for (const answer of final.metrics) {
      const expected = expectedMetrics(events, answer.event_name, answer.from, answer.to);
      expect(answer.total_events).toBe(expected.total_events);
      expect(answer.unique_users).toBe(expected.unique_users);
      const groups = new Map(answer.data.map((g) => [g.group, { total_events: g.total_events, unique_users: g.unique_users }]));
      expect(groups).toEqual(answer.grouped_by === 'channel' ? expected.byChannel : expected.byHour);
    }
  }, 400_000);
});

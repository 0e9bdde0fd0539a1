import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { DEFAULT_MEMORY_LIMIT_MB, planMemory } from '../../config/index.js';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { partitionKey, type TopicPartition } from '../../log/Log.js';
import { ChdbStore } from '../../sink/ChdbStore.js';
import { ClickHouseSink } from '../../sink/ClickHouseSink.js';
import { clickHouseErrorCode } from '../../sink/InsertErrors.js';
import { migrate } from '../../sink/Migrator.js';
import { analyticsStoreConfigFromEnv } from '../../sink/OpenAnalyticsStore.js';
import { rawEventMapper } from '../../sink/RowMappers.js';
import { envelope, generateEvents } from './generate.js';
import { tempDir } from '../support/temp-dir.js';
import { waitFor } from './FlakyStore.js';

const MB = 1024 * 1024;
const TOPIC = 'events.raw';
const TP: TopicPartition = { topic: TOPIC, partition: 0 };

/** Issue 21: chDB's share of the memory plan (max_memory_usage / max_server_memory_usage). */
describe('chDB memory limits', () => {
  test('the store config carries the plan share, an explicit setting wins, a server gets none', () => {
    const plan = planMemory(DEFAULT_MEMORY_LIMIT_MB);
    const chdb = analyticsStoreConfigFromEnv({}, '/data').config;
    expect(chdb).toMatchObject({ kind: 'chdb', maxMemoryUsageBytes: plan.chdb.maxMemoryUsageBytes, maxServerMemoryUsageBytes: plan.chdb.maxServerMemoryUsageBytes });
    // Inserting one full sink batch fits in one query's limit (~28x its record bytes, measured).
    expect(plan.chdb.maxMemoryUsageBytes).toBeGreaterThanOrEqual(28 * plan.sinkBatchBytes);
    const bigger = analyticsStoreConfigFromEnv({ MEMORY_LIMIT_MB: '2048' }, '/data').config;
    expect(bigger).toMatchObject({ maxMemoryUsageBytes: planMemory(2048).chdb.maxMemoryUsageBytes });
    expect((bigger as { maxMemoryUsageBytes: number }).maxMemoryUsageBytes).toBeGreaterThan(plan.chdb.maxMemoryUsageBytes);
    const set = analyticsStoreConfigFromEnv({ CHDB_MAX_MEMORY_USAGE: '0', CHDB_MAX_SERVER_MEMORY_USAGE: String(300 * MB) }, '/data').config;
    expect(set).toMatchObject({ maxMemoryUsageBytes: 0, maxServerMemoryUsageBytes: 300 * MB });
    expect(() => analyticsStoreConfigFromEnv({ CHDB_MAX_MEMORY_USAGE: '-1' }, '/data')).toThrow(/CHDB_MAX_MEMORY_USAGE/);
    expect(analyticsStoreConfigFromEnv({ CLICKHOUSE_URL: 'http://localhost:8123' }, '/data').config).not.toHaveProperty('maxMemoryUsageBytes');
  });

  describe('on a real chDB engine', () => {
    const dir = tempDir('memory');
    let log: EmbeddedLog;
    let store: ChdbStore | undefined;
    const sinks: ClickHouseSink[] = [];

    beforeAll(async () => {
      log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
      await log.ensureTopic(TOPIC, { partitions: 1 });
    });
    afterEach(async () => {
      for (const s of sinks.splice(0)) await s.stop({ flush: false });
    });
    afterAll(async () => {
      await store?.close();
      await log.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    async function reopen(options: { maxMemoryUsageBytes?: number; maxServerMemoryUsageBytes?: number }): Promise<ChdbStore> {
      await store?.close();
      store = await ChdbStore.open({ path: path.join(dir, 'chdb'), ...options });
      return store;
    }

    test('the limits reach the engine, and a query past max_memory_usage fails with code 241', async () => {
      const s = await reopen({ maxMemoryUsageBytes: 16 * MB, maxServerMemoryUsageBytes: 200 * MB });
      const [setting] = await s.query<{ value: string }>("SELECT value FROM system.settings WHERE name = 'max_memory_usage'");
      expect(Number(setting!.value)).toBe(16 * MB);
      // A server setting: chDB takes it at connect (tried: it is honoured, see BENCHMARKS.md).
      const [server] = await s.query<{ value: string }>("SELECT value FROM system.server_settings WHERE name = 'max_server_memory_usage'");
      expect(Number(server!.value)).toBe(200 * MB);
      const error = await s.query('SELECT count() FROM (SELECT number % 5000000 AS k, groupArray(number) FROM numbers(20000000) GROUP BY k)').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(clickHouseErrorCode(error)).toBe(241);
      expect(String((error as Error).message)).toMatch(/memory limit exceeded/i);
      // The engine answers the next query: the limit failed one query, not the session.
      expect(await s.ping()).toBe(true);
    });

    test('max_server_memory_usage bounds the engine total: a query under its own limit fails on the total', async () => {
      const s = await reopen({ maxMemoryUsageBytes: 0, maxServerMemoryUsageBytes: 64 * MB });
      const error = await s.query('SELECT count() FROM (SELECT number % 5000000 AS k, groupArray(number) FROM numbers(20000000) GROUP BY k)').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(clickHouseErrorCode(error)).toBe(241);
      expect(String((error as Error).message)).toMatch(/\(total\) memory limit exceeded/);
    });

    test('a batch past the limit: the sink says so clearly, commits nothing, and every row lands once under a larger limit', async () => {
      const events = generateEvents(6000, Date.now(), 5, 21);
      await log.produce(events.map((e) => ({ topic: TOPIC, key: Buffer.from(e.user_id), value: Buffer.from(JSON.stringify(envelope(e))) })));
      // 6000 records (~1.6 MB) need ~35 MB to insert; 8 MB is too little.
      const small = await reopen({ maxMemoryUsageBytes: 8 * MB });
      await migrate(small, { eventsTtlDays: 0 });
      const logged: string[] = [];
      const logger = pino({ level: 'error' }, { write: (line: string) => void logged.push(line) });
      const make = (s: ChdbStore) => {
        const sink = new ClickHouseSink({
          log,
          store: s,
          routes: [{ topic: TOPIC, table: 'events_raw', map: rawEventMapper }],
          groupId: 'memory-test',
          maxBatchRecords: 10_000,
          lingerMs: 20,
          retryInitialMs: 20,
          retryMaxMs: 100,
          logger,
        });
        sinks.push(sink);
        return sink;
      };
      const failing = make(small);
      await failing.start();
      await waitFor('the sink to report the memory limit', async () => /code 241/.test(failing.status().lastError ?? ''));
      const status = failing.status();
      expect(status.ready).toBe(false);
      expect(status.lastError).toMatch(/ClickHouse memory limit exceeded \(code 241\) inserting 6000 rows into events_db\.events_raw from the batches events\.raw:0:0-5999/);
      expect(status.lastError).toMatch(/raise CHDB_MAX_MEMORY_USAGE or MEMORY_LIMIT_MB/);
      expect(logged.some((line) => line.includes('ClickHouse memory limit exceeded (code 241)'))).toBe(true);
      // Still failing on its retries, nothing inserted, nothing committed.
      await waitFor('a retry', async () => logged.filter((line) => line.includes('code 241')).length >= 2);
      expect((await small.query<{ n: number }>('SELECT count() AS n FROM events_db.events_raw'))[0]!.n).toBe(0);
      expect((await log.committedOffsets('memory-test', [TP])).get(partitionKey(TP))).toBeUndefined();
      await failing.stop({ flush: false });

      // A larger limit: the same cut (recorded in sink_batches) goes in whole, once.
      const larger = await reopen({ maxMemoryUsageBytes: 256 * MB });
      const ok = make(larger);
      await ok.start();
      await waitFor('the sink to catch up', async () => (await log.committedOffsets('memory-test', [TP])).get(partitionKey(TP)) === 6000);
      const [counts] = await larger.query<{ n: number; d: number }>('SELECT count() AS n, uniqExact(event_id) AS d FROM events_db.events_raw');
      expect(counts).toEqual({ n: 6000, d: 6000 });
      expect(ok.status().lastError).toBeNull();
    });
  });
});

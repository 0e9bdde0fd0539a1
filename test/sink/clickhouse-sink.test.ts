import fs from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { partitionKey, type TopicPartition } from '../../log/Log.js';
import { ChdbStore } from '../../sink/ChdbStore.js';
import { migrate } from '../../sink/Migrator.js';
import { rawEventMapper } from '../../sink/RowMappers.js';
import { ClickHouseSink, type SinkBatchInfo } from '../../sink/ClickHouseSink.js';
import { ClickHouseServerStore } from '../../sink/ClickHouseServerStore.js';
import { envelope, generateEvents } from './generate.js';
import { tempDir } from '../support/temp-dir.js';
import { FlakyStore, waitFor } from './FlakyStore.js';

const TOPIC = 'events.raw';
const PARTITIONS = 3;
const TPS: TopicPartition[] = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: TOPIC, partition }));

describe('ClickHouseSink on the embedded log and real chDB', () => {
  const dir = tempDir('sink');
  let log: EmbeddedLog;
  let chdb: ChdbStore;
  let store: FlakyStore;

  async function produce(count: number, seed: number): Promise<void> {
    const events = generateEvents(count, Date.now(), 5, seed);
    await log.produce(events.map((e) => ({ topic: TOPIC, key: Buffer.from(e.user_id), value: Buffer.from(JSON.stringify(envelope(e))) })));
  }

  async function caughtUp(groupId: string): Promise<boolean> {
    const committed = await log.committedOffsets(groupId, TPS);
    for (const tp of TPS) if ((committed.get(partitionKey(tp)) ?? 0) < (await log.endOffset(tp))) return false;
    return true;
  }

  async function counts() {
    const one = async (sql: string) => (await chdb.query<{ n: number }>(sql))[0]!.n;
    return {
      raw: await one('SELECT count() AS n FROM events_db.events_raw'),
      distinct: await one('SELECT uniqExact(event_id) AS n FROM events_db.events_raw'),
      mv: await one('SELECT toUInt64(sum(total_events)) AS n FROM events_db.event_metrics_hourly'),
    };
  }

  const running: ClickHouseSink[] = [];
  afterEach(async () => {
    // A failed test must not leave its group member behind for the next one.
    for (const s of running.splice(0)) await s.stop({ flush: false });
    store.down = false;
  });

  function sink(options: { groupId?: string; maxBatchRecords?: number; lingerMs?: number; registry?: Registry; batches?: SinkBatchInfo[] } = {}) {
    const s = new ClickHouseSink({
      log,
      store,
      routes: [{ topic: TOPIC, table: 'events_raw', map: rawEventMapper }],
      groupId: options.groupId ?? 'sink-test',
      maxBatchRecords: options.maxBatchRecords ?? 700,
      lingerMs: options.lingerMs ?? 50,
      retryInitialMs: 20,
      retryMaxMs: 200,
      healthCheckIntervalMs: 50,
      registry: options.registry,
      onBatchInserted: (batch) => void options.batches?.push(batch),
    });
    running.push(s);
    return s;
  }

  beforeAll(async () => {
    log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
    await log.ensureTopic(TOPIC, { partitions: PARTITIONS });
    chdb = await ChdbStore.open({ path: path.join(dir, 'chdb') });
    await migrate(chdb, { eventsTtlDays: 0 });
    store = new FlakyStore(chdb);
  });
  afterAll(async () => {
    await log.close();
    await chdb.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('every event lands once, offsets are committed, metrics count rows, batches and lag', async () => {
    await produce(5000, 1);
    const registry = new Registry();
    const batches: SinkBatchInfo[] = [];
    const s = sink({ registry, batches });
    await s.start();
    expect(s.isReady()).toBe(true);
    await waitFor('the sink to catch up', () => caughtUp('sink-test'));
    expect(await counts()).toEqual({ raw: 5000, distinct: 5000, mv: 5000 });
    // Each flush round writes its partitions' batches as one block per table: the token lists
    // exactly the batches written with it, at most one batch's bound of records in all.
    const rounds = new Map<string, string[]>();
    const recordsPerRound = new Map<string, number>();
    for (const batch of batches) {
      rounds.set(batch.dedupToken, [...(rounds.get(batch.dedupToken) ?? []), `${TOPIC}:${batch.partition}:${batch.firstOffset}-${batch.lastOffset}`]);
      recordsPerRound.set(batch.dedupToken, (recordsPerRound.get(batch.dedupToken) ?? 0) + batch.records);
    }
    for (const [token, members] of rounds) expect(token.split(',').sort()).toEqual(members.sort());
    expect(Math.max(...recordsPerRound.values())).toBeLessThanOrEqual(700);
    const metrics = await registry.getMetricsAsJSON();
    const value = (name: string) => metrics.find((m) => m.name === name)!.values.reduce((sum, v) => sum + Number(v.value), 0);
    expect(value('streamline_sink_rows_inserted_total')).toBe(5000);
    expect(value('streamline_sink_batches_total')).toBe(batches.length);
    expect(value('streamline_sink_insert_failures_total')).toBe(0);
    await waitFor('lag to reach 0', async () => {
      const lag = (await registry.getMetricsAsJSON()).find((m) => m.name === 'streamline_sink_lag_records')!.values;
      return lag.length === PARTITIONS && lag.every((v) => v.value === 0);
    });
    await s.stop();
  });

  test('a replay of committed batches, with other batch settings, inserts nothing twice (tables and MV)', async () => {
    // Rewind the group to the start: every batch is read and written again.
    const rewind = log.createConsumer({ groupId: 'sink-test' });
    await rewind.commitOffsets(TPS.map((tp) => ({ ...tp, offset: 0 })));
    await rewind.close();
    const batches: SinkBatchInfo[] = [];
    // A different size and linger would cut other batches; the recorded cuts win.
    const s = sink({ maxBatchRecords: 250, lingerMs: 5, batches });
    await s.start();
    await waitFor('the replay to catch up', () => caughtUp('sink-test'));
    await s.stop();
    expect(batches.reduce((sum, b) => sum + b.records, 0)).toBe(5000);
    expect(batches.some((b) => b.records > 250)).toBe(true);
    expect(await counts()).toEqual({ raw: 5000, distinct: 5000, mv: 5000 });
  });

  test('while ClickHouse is unreachable the sink pauses, reports not ready, then catches up exactly once', async () => {
    const registry = new Registry();
    const s = sink({ registry });
    await s.start();
    store.down = true;
    await waitFor('the health check to notice the outage', () => !s.isReady());
    const committedBefore = await log.committedOffsets('sink-test', TPS);
    await produce(2000, 2);
    await waitFor('failed retries', () => store.failures >= 3);
    expect(s.isReady()).toBe(false);
    expect(s.status().lastError).toMatch(/ECONNREFUSED/);
    // Input stays in the log: nothing was committed during the outage.
    expect(await log.committedOffsets('sink-test', TPS)).toEqual(committedBefore);
    expect(await counts()).toEqual({ raw: 5000, distinct: 5000, mv: 5000 });
    store.down = false;
    await waitFor('recovery', () => s.isReady());
    await waitFor('the sink to catch up', () => caughtUp('sink-test'));
    expect(await counts()).toEqual({ raw: 7000, distinct: 7000, mv: 7000 });
    const failures = (await registry.getMetricsAsJSON()).find((m) => m.name === 'streamline_sink_ready')!.values[0]!.value;
    expect(failures).toBe(1);
    await s.stop();
  });

  test('two sinks of one group share the partitions (the embedded log takes several members per group) and every event lands', async () => {
    await produce(600, 7);
    const first = sink({ groupId: 'sink-twice' });
    await first.start();
    const second = sink({ groupId: 'sink-twice' });
    await second.start();
    expect(first.isReady()).toBe(true);
    expect(second.isReady()).toBe(true);
    await waitFor('both sinks to catch up', () => caughtUp('sink-twice'));
    let total = 0;
    for (const tp of TPS) total += await log.endOffset(tp);
    expect((await counts()).distinct).toBe(total);
  });

  test('a ClickHouse server that does not answer (real client, closed port) leaves the sink not ready and commits nothing', async () => {
    await expect(ClickHouseServerStore.open({ url: 'http://127.0.0.1:9', requestTimeoutMs: 1000 })).rejects.toThrow(/ECONNREFUSED|connect/);
    const offline = ClickHouseServerStore.create({ url: 'http://127.0.0.1:9', requestTimeoutMs: 1000 });
    expect(await offline.ping()).toBe(false);
    await produce(10, 3);
    const s = new ClickHouseSink({ log, store: offline, routes: [{ topic: TOPIC, table: 'events_raw', map: rawEventMapper }], groupId: 'sink-offline', retryInitialMs: 20 });
    running.push(s);
    await s.start();
    expect(s.isReady()).toBe(false);
    await waitFor('a failed attempt', () => s.status().lastError !== null);
    expect((await log.committedOffsets('sink-offline', TPS)).size).toBe(0);
    await s.stop({ flush: false });
    await offline.close();
  });
});

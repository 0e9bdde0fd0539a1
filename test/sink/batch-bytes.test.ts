import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_MEMORY_LIMIT_MB, planMemory } from '../../config/index.js';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { partitionKey, type LogRecord, type TopicPartition } from '../../log/Log.js';
import { ChdbStore } from '../../sink/ChdbStore.js';
import { ClickHouseSink, type SinkBatchInfo } from '../../sink/ClickHouseSink.js';
import { migrate } from '../../sink/Migrator.js';
import { PartitionBatcher, recordBytes } from '../../sink/PartitionBatcher.js';
import { rawEventMapper } from '../../sink/RowMappers.js';
import { sinkSettingsFromEnv } from '../../sink/SinkConfig.js';
import { envelope, generateEvents } from './generate.js';
import { tempDir } from '../support/temp-dir.js';
import { waitFor } from './FlakyStore.js';

const tp = { topic: 't', partition: 0 };
/** A record of exactly `bytes` value bytes and no key. */
const rec = (offset: number, bytes: number): LogRecord => ({ ...tp, offset, key: null, value: Buffer.alloc(bytes, 120), headers: {}, timestamp: offset });

/** Issue 21 item 2: sink batches bounded in bytes (SINK_BATCH_MAX_BYTES), not only in records. */
describe('sink batches bounded in bytes', () => {
  test('a batch is cut at the byte bound before the record bound, and never empty', () => {
    const b = new PartitionBatcher(tp, 0, 100, 1_000, 1_000);
    b.cuts = new Map();
    for (let offset = 0; offset < 7; offset++) b.add(rec(offset, 300), 0);
    // 3 x 300 = 900 fits, a fourth would make 1,200: cut after three, full, without waiting for the linger.
    expect(b.cut(0, false)).toMatchObject({ first: 0, last: 2, full: true });
    expect(b.cut(0, false)).toMatchObject({ first: 3, last: 5, full: true });
    // One record left (300 bytes): not full, it waits for the linger.
    expect(b.cut(10, false)).toBeNull();
    expect(b.cut(1_000, false)).toMatchObject({ first: 6, last: 6, full: false });
    expect(b.bufferBytes).toBe(0);
    // A record larger than the bound is a batch of its own.
    b.add(rec(7, 5_000), 2_000);
    b.add(rec(8, 10), 2_000);
    expect(b.cut(2_000, false)).toMatchObject({ first: 7, last: 7, full: true });
    // Exactly at the bound is full.
    const exact = new PartitionBatcher(tp, 0, 100, 1_000, 1_000);
    exact.cuts = new Map();
    exact.add(rec(0, 600), 0);
    exact.add(rec(1, 400), 0);
    expect(exact.cut(0, false)).toMatchObject({ first: 0, last: 1, full: true });
  });

  test('the record bound still applies, and a partition holding two batches of bytes is overfull', () => {
    const b = new PartitionBatcher(tp, 0, 2, 1_000, 1_000_000);
    b.cuts = new Map();
    for (let offset = 0; offset < 3; offset++) b.add(rec(offset, 10), 0);
    expect(b.cut(0, false)).toMatchObject({ first: 0, last: 1, full: true });
    const bytes = new PartitionBatcher(tp, 0, 1_000, 1_000, 1_000);
    bytes.cuts = new Map();
    bytes.add(rec(0, 999), 0);
    bytes.add(rec(1, 999), 0);
    expect(bytes.overfull()).toBe(false); // 1,998 < 2 x 1,000
    bytes.add(rec(2, 2), 0);
    expect(bytes.overfull()).toBe(true);
    bytes.cut(0, false);
    expect(bytes.overfull()).toBe(false);
    expect(recordBytes({ ...rec(0, 7), key: Buffer.from('abc') })).toBe(10);
  });

  test('SINK_BATCH_MAX_BYTES defaults to the memory plan share and can be set', () => {
    expect(sinkSettingsFromEnv({}).maxBatchBytes).toBe(planMemory(DEFAULT_MEMORY_LIMIT_MB).sinkBatchBytes);
    expect(sinkSettingsFromEnv({ MEMORY_LIMIT_MB: '1024' }).maxBatchBytes).toBe(planMemory(1024).sinkBatchBytes);
    expect(planMemory(1024).sinkBatchBytes).toBeGreaterThan(planMemory(512).sinkBatchBytes);
    expect(sinkSettingsFromEnv({ SINK_BATCH_MAX_BYTES: '65536' }).maxBatchBytes).toBe(65_536);
    expect(() => sinkSettingsFromEnv({ SINK_BATCH_MAX_BYTES: '10' })).toThrow(/SINK_BATCH_MAX_BYTES/);
  });

  describe('the sink on the embedded log and real chDB', () => {
    const dir = tempDir('batch-bytes');
    const TOPIC = 'events.raw';
    const TPS: TopicPartition[] = [0, 1].map((partition) => ({ topic: TOPIC, partition }));
    let log: EmbeddedLog;
    let store: ChdbStore;
    let sink: ClickHouseSink | undefined;

    beforeAll(async () => {
      log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
      await log.ensureTopic(TOPIC, { partitions: 2 });
      store = await ChdbStore.open({ path: path.join(dir, 'chdb') });
      await migrate(store, { eventsTtlDays: 0 });
    });
    afterAll(async () => {
      await sink?.stop({ flush: false });
      await store.close();
      await log.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('every batch written stays within the byte bound, and every event lands once', async () => {
      const events = generateEvents(3000, Date.now(), 5, 7);
      await log.produce(events.map((e) => ({ topic: TOPIC, key: Buffer.from(e.user_id), value: Buffer.from(JSON.stringify(envelope(e))) })));
      const sizes = new Map<string, number>();
      for (const tp of TPS) {
        for (const record of await log.read(tp, 0, 10_000)) sizes.set(`${record.partition}:${record.offset}`, recordBytes(record));
      }
      const maxBatchBytes = 40_000; // ~140 records of ~280 bytes; the record bound (10,000) never binds
      const batches: SinkBatchInfo[] = [];
      sink = new ClickHouseSink({
        log,
        store,
        routes: [{ topic: TOPIC, table: 'events_raw', map: rawEventMapper }],
        groupId: 'batch-bytes',
        maxBatchRecords: 10_000,
        maxBatchBytes,
        lingerMs: 20,
        onBatchInserted: (batch) => void batches.push(batch),
      });
      await sink.start();
      await waitFor('the sink to catch up', async () => {
        const committed = await log.committedOffsets('batch-bytes', TPS);
        for (const tp of TPS) if ((committed.get(partitionKey(tp)) ?? 0) < (await log.endOffset(tp))) return false;
        return true;
      });
      expect(batches.length).toBeGreaterThanOrEqual(Math.floor((3000 * 250) / maxBatchBytes));
      for (const batch of batches) {
        let bytes = 0;
        for (let offset = batch.firstOffset; offset <= batch.lastOffset; offset++) bytes += sizes.get(`${batch.partition}:${offset}`)!;
        expect(bytes).toBeLessThanOrEqual(maxBatchBytes);
        expect(batch.records).toBe(batch.lastOffset - batch.firstOffset + 1);
      }
      const [counts] = await store.query<{ n: number; d: number }>('SELECT count() AS n, uniqExact(event_id) AS d FROM events_db.events_raw');
      expect(counts).toEqual({ n: 3000, d: 3000 });
    });
  });
});

import { jsonSerde, stringSerde } from '../../state/Serde.js';
import { windowStore } from '../../state/Stores.js';
import { RocksDBEngine } from '../../state/RocksDBEngine.js';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import type { Log } from '../../log/Log.js';
import { MemoryChangelog } from './support.js';
import { TempDirs } from '../support/temp-dir.js';

/**
 * Issue 21 item 2: what retention and TTLs promise, measured as the bytes the stores and the log
 * still hold (keys + values RocksDB must keep). RocksDB returns the disk space of deleted keys at
 * its next compaction of their files (background); bench/footprint.ts shows du over time.
 */
const dirs = new TempDirs();
afterEach(() => dirs.removeAll());

const HOUR = 3_600_000;
const payload = 'x'.repeat(1000);

/** Bytes of every entry in a store's column (read with the store closed). */
async function storeBytes(dir: string, store: string): Promise<number> {
  const engine = await RocksDBEngine.open(dir, store);
  try {
    let bytes = 0;
    for (const [key, value] of engine.scan({})) bytes += key.length + value.length;
    return bytes;
  } finally {
    await engine.close();
  }
}

/** Keys + values of every record a topic still holds. */
async function topicBytes(log: Log, topic: string): Promise<{ records: number; bytes: number }> {
  let records = 0;
  let bytes = 0;
  for (let partition = 0; partition < (await log.partitionCount(topic)); partition++) {
    let offset = await log.beginningOffset({ topic, partition });
    for (;;) {
      const batch = await log.read({ topic, partition }, offset, 5000);
      if (batch.length === 0) break;
      for (const record of batch) bytes += (record.key?.length ?? 0) + (record.value?.length ?? 0);
      records += batch.length;
      offset = batch[batch.length - 1]!.offset + 1;
    }
  }
  return { records, bytes };
}

test('window retention: the window store shrinks to the retained windows once stream time passes them', async () => {
  const dir = dirs.make();
  const retentionMs = 10_000;
  const store = windowStore('sessions', { windowSizeMs: 1000, retentionMs }, stringSerde, jsonSerde<string>()).build('app');
  const changelog = new MemoryChangelog();
  await store.open(dir);
  await store.finishRestore(0);
  // 2000 windows of ~1 KB over 2 s of stream time.
  store.advanceStreamTime(1000);
  for (let i = 0; i < 2000; i++) store.put(`user-${i}`, payload, 1000 * Math.floor(i / 1000));
  changelog.append(store.drainChangelog(0, '1'));
  await store.flush(changelog.endOffset);
  await store.close();
  const before = await storeBytes(dir, 'sessions');
  expect(before).toBeGreaterThan(2000 * 1000);

  // Stream time moves 60 s on: every window above is past retention.
  await store.open(dir);
  await store.finishRestore(changelog.endOffset);
  store.advanceStreamTime(60_000);
  store.put('late-user', payload, 60_000);
  changelog.append(store.drainChangelog(0, '2'));
  await store.flush(changelog.endOffset);
  await store.close();
  const after = await storeBytes(dir, 'sessions');
  expect(after).toBeLessThan(10_000);
  expect(after).toBeGreaterThan(1000); // the retained window (and the checkpoint) is still there
});

test('log time retention and changelog compaction: the embedded log drops expired and superseded records', async () => {
  const dir = dirs.make();
  const log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
  try {
    await log.ensureTopic('clicks', { partitions: 2, cleanupPolicy: 'delete', retentionMs: HOUR });
    await log.ensureTopic('totals-changelog', { partitions: 1, cleanupPolicy: 'compact' });
    const now = Date.now();
    // 4000 clicks from two hours ago, then 100 fresh ones.
    for (let round = 0; round < 4; round++) {
      await log.produce(Array.from({ length: 1000 }, (_, i) => ({ topic: 'clicks', key: Buffer.from(`u${i}`), value: Buffer.from(payload), timestamp: now - 2 * HOUR })));
    }
    await log.produce(Array.from({ length: 100 }, (_, i) => ({ topic: 'clicks', key: Buffer.from(`u${i}`), value: Buffer.from(payload), timestamp: now })));
    // 50 keys of a changelog, each written 40 times.
    for (let round = 0; round < 40; round++) {
      await log.produce(Array.from({ length: 50 }, (_, i) => ({ topic: 'totals-changelog', key: Buffer.from(`k${i}`), value: Buffer.from(`${round}:${payload}`), timestamp: now })));
    }
    const clicksBefore = await topicBytes(log, 'clicks');
    const changelogBefore = await topicBytes(log, 'totals-changelog');
    expect(clicksBefore.records).toBe(4100);
    expect(changelogBefore.records).toBe(2000);

    const result = await log.compactNow({ now });
    expect(result.expired).toBe(4000);
    expect(result.compacted).toBe(1950);

    const clicksAfter = await topicBytes(log, 'clicks');
    const changelogAfter = await topicBytes(log, 'totals-changelog');
    expect(clicksAfter.records).toBe(100);
    expect(clicksAfter.bytes).toBeLessThan(clicksBefore.bytes / 30);
    expect(changelogAfter.records).toBe(50);
    expect(changelogAfter.bytes).toBeLessThan(changelogBefore.bytes / 30);
  } finally {
    await log.close();
  }
});

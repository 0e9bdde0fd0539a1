import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { noopListener, pollUntil, readAll } from './log-contract.js';
import { removeDir, tempDir } from '../support/temp-dir.js';

const HOUR = 60 * 60 * 1000;

describe('EmbeddedLog cleanup (compaction and retention)', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('embedded-log-cleanup');
    log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0, tombstoneRetentionMs: HOUR });
  });

  afterEach(async () => {
    await log.close();
    removeDir(dir);
  });

  const put = (topic: string, key: string, value: string | null, timestamp?: number) => ({
    topic,
    key: Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
    partition: 0,
    timestamp,
  });

  it('keeps only the latest record per key in a compacted topic, offsets unchanged', async () => {
    await log.ensureTopic('changelog', { partitions: 1, cleanupPolicy: 'compact' });
    await log.produce([put('changelog', 'a', 'a1'), put('changelog', 'b', 'b1'), put('changelog', 'a', 'a2'), put('changelog', 'c', 'c1')]);
    await log.produce([put('changelog', 'b', 'b2'), put('changelog', 'a', 'a3')]);

    const result = await log.compactNow();
    expect(result.compacted).toBe(3);

    const left = await readAll(log, { topic: 'changelog', partition: 0 });
    expect(left.map((r) => [r.offset, r.key!.toString(), r.value!.toString()])).toEqual([
      [3, 'c', 'c1'],
      [4, 'b', 'b2'],
      [5, 'a', 'a3'],
    ]);
    // Kafka semantics: compaction leaves the log start and end where they were.
    expect(await log.beginningOffset({ topic: 'changelog', partition: 0 })).toBe(0);
    expect(await log.endOffset({ topic: 'changelog', partition: 0 })).toBe(6);
    // Reading from a removed offset returns the next surviving record.
    expect((await log.read({ topic: 'changelog', partition: 0 }, 1, 1))[0].offset).toBe(3);

    // A consumer starting at 0 skips the gaps and sees the survivors in order.
    const consumer = log.createConsumer({ groupId: 'restore' });
    await consumer.subscribe(['changelog'], noopListener);
    const seen = await pollUntil(consumer, (rs) => rs.length >= 3);
    expect(seen.map((r) => r.offset)).toEqual([3, 4, 5]);
    await consumer.close();
  });

  it('keeps a tombstone until tombstoneRetentionMs, then removes it', async () => {
    await log.ensureTopic('ref.users', { partitions: 1, cleanupPolicy: 'compact' });
    const t0 = Date.now();
    await log.produce([put('ref.users', 'u1', 'alice', t0), put('ref.users', 'u2', 'bob', t0), put('ref.users', 'u1', null, t0)]);

    await log.compactNow({ now: t0 + 1000 });
    let left = await readAll(log, { topic: 'ref.users', partition: 0 });
    expect(left.map((r) => [r.key!.toString(), r.value?.toString() ?? null])).toEqual([
      ['u2', 'bob'],
      ['u1', null],
    ]);

    const later = await log.compactNow({ now: t0 + HOUR + 1000 });
    expect(later.tombstones).toBe(1);
    left = await readAll(log, { topic: 'ref.users', partition: 0 });
    expect(left.map((r) => r.key!.toString())).toEqual(['u2']);
    expect(await log.endOffset({ topic: 'ref.users', partition: 0 })).toBe(3);
  });

  it('survives reopen after compaction removed the newest records', async () => {
    await log.ensureTopic('gone', { partitions: 1, cleanupPolicy: 'compact' });
    const old = Date.now() - 2 * HOUR;
    await log.produce([put('gone', 'k', 'v', old), put('gone', 'k', null, old)]);
    await log.compactNow();
    expect(await readAll(log, { topic: 'gone', partition: 0 })).toEqual([]);
    await log.close();
    log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
    // The end offset is stored, not derived from the last record: no offset is ever reused.
    expect(await log.endOffset({ topic: 'gone', partition: 0 })).toBe(2);
    const [m] = await log.produce([put('gone', 'k', 'again')]);
    expect(m.offset).toBe(2);
  });

  it('removes records older than retentionMs and moves the beginning offset', async () => {
    await log.ensureTopic('windows', { partitions: 1, cleanupPolicy: 'delete', retentionMs: HOUR });
    const now = Date.now();
    await log.produce([
      put('windows', 'a', '1', now - 3 * HOUR),
      put('windows', 'b', '2', now - 2 * HOUR),
      put('windows', 'c', '3', now - 10_000),
      put('windows', 'd', '4', now),
    ]);
    const result = await log.compactNow({ now });
    expect(result.expired).toBe(2);
    expect(await log.beginningOffset({ topic: 'windows', partition: 0 })).toBe(2);
    expect((await readAll(log, { topic: 'windows', partition: 0 })).map((r) => r.offset)).toEqual([2, 3]);
    // Reading from before the log start starts at the log start.
    expect((await log.read({ topic: 'windows', partition: 0 }, 0, 10)).map((r) => r.offset)).toEqual([2, 3]);

    // A group whose committed offset fell off the log restarts at the log start (earliest).
    const consumer = log.createConsumer({ groupId: 'late' });
    await consumer.commitOffsets([{ topic: 'windows', partition: 0, offset: 1 }]);
    await consumer.subscribe(['windows'], noopListener);
    const seen = await pollUntil(consumer, (rs) => rs.length >= 2);
    expect(seen.map((r) => r.offset)).toEqual([2, 3]);
    await consumer.close();

    // Retention survives reopen.
    await log.close();
    log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
    expect(await log.beginningOffset({ topic: 'windows', partition: 0 })).toBe(2);
  });

  it('applies both for compact,delete', async () => {
    await log.ensureTopic('windowed-changelog', { partitions: 1, cleanupPolicy: 'compact,delete', retentionMs: HOUR });
    const now = Date.now();
    await log.produce([
      put('windowed-changelog', 'w1', 'old', now - 2 * HOUR),
      put('windowed-changelog', 'w2', 'x', now - 1000),
      put('windowed-changelog', 'w2', 'y', now - 500),
    ]);
    const result = await log.compactNow({ now });
    expect(result).toEqual({ expired: 1, compacted: 1, tombstones: 0 });
    expect((await readAll(log, { topic: 'windowed-changelog', partition: 0 })).map((r) => r.value!.toString())).toEqual(['y']);
  });

  it('leaves delete topics without retentionMs alone', async () => {
    await log.ensureTopic('forever', { partitions: 1 });
    await log.produce([put('forever', 'a', '1', 0), put('forever', 'a', '2', 0)]);
    expect(await log.compactNow()).toEqual({ expired: 0, compacted: 0, tombstones: 0 });
    expect(await readAll(log, { topic: 'forever', partition: 0 })).toHaveLength(2);
  });

  it('compacts large partitions in chunks without losing the latest values', async () => {
    await log.ensureTopic('big', { partitions: 1, cleanupPolicy: 'compact' });
    for (let round = 0; round < 5; round++) {
      await log.produce(Array.from({ length: 5_000 }, (_, i) => put('big', `key-${i}`, `r${round}`)));
    }
    const result = await log.compactNow();
    expect(result.compacted).toBe(20_000);
    const left = await readAll(log, { topic: 'big', partition: 0 });
    expect(left).toHaveLength(5_000);
    expect(left.every((r) => r.value!.toString() === 'r4')).toBe(true);
  });

  it('in periodic passes compacts only once half the partition is dirty, like min.cleanable.dirty.ratio', async () => {
    await log.ensureTopic('ratio', { partitions: 1, cleanupPolicy: 'compact' });
    await log.produce(Array.from({ length: 100 }, (_, i) => put('ratio', `k${i}`, 'a')));
    expect((await log.compactNow({ force: false })).compacted).toBe(0); // first pass: nothing superseded yet

    // 40 updates over 100 live records: dirty ratio 40/140 < 0.5, skipped.
    await log.produce(Array.from({ length: 40 }, (_, i) => put('ratio', `k${i}`, 'b')));
    expect((await log.compactNow({ force: false })).compacted).toBe(0);
    expect(await readAll(log, { topic: 'ratio', partition: 0 })).toHaveLength(140);

    // 70 more: 110/210 >= 0.5, compacted.
    await log.produce(Array.from({ length: 70 }, (_, i) => put('ratio', `k${i}`, 'c')));
    expect((await log.compactNow({ force: false })).compacted).toBe(110);
    expect(await readAll(log, { topic: 'ratio', partition: 0 })).toHaveLength(100);
  });

  it('runs in the background every cleanupIntervalMs', async () => {
    const bgDir = tempDir('embedded-log-cleanup-bg');
    const bg = await openEmbeddedLog({ dir: bgDir, cleanupIntervalMs: 20 });
    try {
      await bg.ensureTopic('bg', { partitions: 1, cleanupPolicy: 'compact' });
      await bg.produce([put('bg', 'k', '1'), put('bg', 'k', '2'), put('bg', 'k', '3')]);
      const deadline = Date.now() + 10_000;
      let left = await readAll(bg, { topic: 'bg', partition: 0 });
      while (left.length > 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        left = await readAll(bg, { topic: 'bg', partition: 0 });
      }
      expect(left.map((r) => r.value!.toString())).toEqual(['3']);
    } finally {
      await bg.close();
      removeDir(bgDir);
    }
  });

  it('compacts in the background while producers append and a consumer reads, without losing the latest values', async () => {
    const busyDir = tempDir('embedded-log-cleanup-busy');
    const busy = await openEmbeddedLog({ dir: busyDir, cleanupIntervalMs: 5 });
    try {
      await busy.ensureTopic('live', { partitions: 2, cleanupPolicy: 'compact' });
      const consumer = busy.createConsumer({ groupId: 'live-reader' });
      await consumer.subscribe(['live'], noopListener);
      const seenSeq = new Map<string, number>();
      let producing = true;
      const reading = (async () => {
        for (;;) {
          const records = await consumer.poll(200, 20);
          for (const r of records) {
            const key = r.key!.toString();
            const seq = Number(r.value!.toString());
            // Compaction may hide versions from a reader, never reorder them.
            expect(seq).toBeGreaterThan(seenSeq.get(key) ?? -1);
            seenSeq.set(key, seq);
          }
          if (!producing && records.length === 0) return; // caught up after the last append
        }
      })();
      const lastSeq = new Map<string, number>();
      for (let seq = 0; seq < 20_000; seq += 500) {
        const batch = Array.from({ length: 500 }, (_, i) => ({ topic: 'live', key: Buffer.from(`k${(seq + i) % 50}`), value: Buffer.from(String(seq + i)) }));
        await busy.produce(batch);
        for (const r of batch) lastSeq.set(r.key.toString(), Number(r.value.toString()));
        await new Promise((resolve) => setImmediate(resolve));
      }
      producing = false;
      await reading;
      // The background cleaner did most of the work while the others ran.
      expect((await busy.compactNow()).compacted).toBeLessThan(20_000 - 50);
      const left = [...(await readAll(busy, { topic: 'live', partition: 0 })), ...(await readAll(busy, { topic: 'live', partition: 1 }))];
      expect(new Map(left.map((r) => [r.key!.toString(), Number(r.value!.toString())]))).toEqual(lastSeq);
      expect(left).toHaveLength(50);
      // The reader ended on the latest value of every key.
      expect(seenSeq).toEqual(lastSeq);
      await consumer.close();
    } finally {
      await busy.close();
      removeDir(busyDir);
    }
  });
});

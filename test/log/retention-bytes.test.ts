import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { readLogRetentionBytes } from '../../log/embedded/LogCleaner.js';
import type { TopicPartition } from '../../log/Log.js';
import { noopListener, pollUntil, readAll } from './log-contract.js';
import { removeDir, tempDir } from '../support/temp-dir.js';

const VALUE_BYTES = 1000;
/** A stored record: the value, its key, timestamp and framing; at least the value, at most +64 bytes. */
const MAX_RECORD_BYTES = VALUE_BYTES + 64;

/** Issue 21 item 3: size retention (Kafka's retention.bytes / log.retention.bytes) on the embedded log. */
describe('EmbeddedLog size retention (retentionBytes)', () => {
  let dir: string;
  let log: EmbeddedLog;
  const tp = (topic: string): TopicPartition => ({ topic, partition: 0 });

  async function fill(topic: string, from: number, count: number, perProduce = 10): Promise<void> {
    for (let i = from; i < from + count; i += perProduce) {
      const n = Math.min(perProduce, from + count - i);
      await log.produce(Array.from({ length: n }, (_, j) => ({ topic, partition: 0, key: Buffer.from(`k${i + j}`), value: Buffer.alloc(VALUE_BYTES, 97 + ((i + j) % 26)) })));
    }
  }

  const offsets = async (topic: string) => (await readAll(log, tp(topic))).map((r) => r.offset);

  beforeEach(async () => {
    dir = tempDir('embedded-log-retention-bytes');
    log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
  });
  afterEach(async () => {
    await log.close();
    removeDir(dir);
  });

  it('trims the oldest records of a partition over its bound, keeps the newest, and moves the log start', async () => {
    await log.ensureTopic('bounded', { partitions: 1, retentionBytes: 20_000 });
    await fill('bounded', 0, 100);
    expect(await offsets('bounded')).toHaveLength(100);
    const result = await log.compactNow();
    const left = await offsets('bounded');
    // What is left is the newest records, contiguous up to the end, within the bound and as many as it holds.
    expect(left[left.length - 1]).toBe(99);
    expect(left).toEqual(Array.from({ length: left.length }, (_, i) => 100 - left.length + i));
    expect(left.length * VALUE_BYTES).toBeLessThanOrEqual(20_000);
    expect(left.length).toBeGreaterThanOrEqual(Math.floor(20_000 / MAX_RECORD_BYTES) - 1);
    expect(result.expired).toBe(100 - left.length);
    expect(await log.beginningOffset(tp('bounded'))).toBe(left[0]);
    // Nothing new: the next pass removes nothing. More appended: trimmed again to the bound.
    expect((await log.compactNow()).expired).toBe(0);
    await fill('bounded', 100, 30, 7);
    await log.compactNow();
    const after = await offsets('bounded');
    expect(after[after.length - 1]).toBe(129);
    expect(after.length).toBe(left.length);
    // Reopened: the log start and the topic's bound are kept.
    await log.close();
    log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
    expect(await log.beginningOffset(tp('bounded'))).toBe(after[0]);
    await fill('bounded', 130, 10);
    await log.compactNow();
    expect(await log.beginningOffset(tp('bounded'))).toBe(after[0] + 10);
  });

  it('trims inside a record batch: one produce of 100 records is cut record by record', async () => {
    await log.ensureTopic('one-batch', { partitions: 1, retentionBytes: 10_500 });
    await fill('one-batch', 0, 100, 100);
    await log.compactNow();
    const left = await offsets('one-batch');
    expect(left.length).toBeGreaterThanOrEqual(Math.floor(10_500 / MAX_RECORD_BYTES) - 1);
    expect(left.length * VALUE_BYTES).toBeLessThanOrEqual(10_500);
    expect(left[left.length - 1]).toBe(99);
  });

  it('consumers positioned before the new start behave as on Kafka: auto.offset.reset', async () => {
    await log.ensureTopic('bounded', { partitions: 1, retentionBytes: 5_000 });
    await fill('bounded', 0, 20);
    // A group that read up to offset 3 and committed, and one reading from the start right now.
    const committed = log.createConsumer({ groupId: 'committed-early' });
    await committed.commitOffsets([{ ...tp('bounded'), offset: 3 }]);
    await committed.close();
    const reading = log.createConsumer({ groupId: 'reading', autoOffsetReset: 'earliest' });
    await reading.subscribe(['bounded'], noopListener);
    const firstPoll = await reading.poll(2, 1_000);
    expect(firstPoll.map((r) => r.offset)).toEqual([0, 1]);

    await log.compactNow();
    const start = await log.beginningOffset(tp('bounded'));
    expect(start).toBeGreaterThan(3);

    // The live consumer's position (2) fell off the log: it goes on from the new start, with no error.
    const rest = await pollUntil(reading, (rs) => rs.length > 0 && rs[rs.length - 1]!.offset === 19);
    expect(rest[0]!.offset).toBe(start);
    await reading.close();
    // earliest: a group whose committed offset fell off starts at the log start...
    const earliest = log.createConsumer({ groupId: 'committed-early', autoOffsetReset: 'earliest' });
    await earliest.subscribe(['bounded'], noopListener);
    const seen = await pollUntil(earliest, (rs) => rs.length >= 20 - start);
    expect(seen.map((r) => r.offset)).toEqual(Array.from({ length: 20 - start }, (_, i) => start + i));
    await earliest.close();
    // ...latest: at the end (it sees only what comes next).
    const latest = log.createConsumer({ groupId: 'committed-early-latest', autoOffsetReset: 'latest' });
    await latest.commitOffsets([{ ...tp('bounded'), offset: 1 }]);
    await latest.subscribe(['bounded'], noopListener);
    expect(await latest.poll(10, 50)).toEqual([]);
    await fill('bounded', 20, 1);
    const next = await pollUntil(latest, (rs) => rs.length >= 1);
    expect(next.map((r) => r.offset)).toEqual([20]);
    await latest.close();
    // Direct reads from before the start begin at the start.
    expect((await log.read(tp('bounded'), 0, 1))[0]!.offset).toBe(await log.beginningOffset(tp('bounded')));
  });

  it('the log default (LOG_RETENTION_BYTES) bounds delete topics without their own; -1 and compacted topics are left alone', async () => {
    await log.close();
    removeDir(dir);
    dir = tempDir('embedded-log-retention-bytes');
    log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0, retentionBytes: 8_000 });
    await log.ensureTopic('defaulted', { partitions: 1 });
    await log.ensureTopic('unlimited', { partitions: 1, retentionBytes: -1 });
    await log.ensureTopic('own', { partitions: 1, retentionBytes: 3_000 });
    await log.ensureTopic('changelog', { partitions: 1, cleanupPolicy: 'compact' });
    for (const topic of ['defaulted', 'unlimited', 'own', 'changelog']) await fill(topic, 0, 30);
    await log.compactNow();
    const defaulted = await offsets('defaulted');
    expect(defaulted.length * VALUE_BYTES).toBeLessThanOrEqual(8_000);
    expect(defaulted.length).toBeGreaterThanOrEqual(Math.floor(8_000 / MAX_RECORD_BYTES) - 1);
    expect(await offsets('unlimited')).toHaveLength(30);
    expect((await offsets('own')).length * VALUE_BYTES).toBeLessThanOrEqual(3_000);
    expect(await offsets('changelog')).toHaveLength(30); // distinct keys, compact only: nothing to remove
    // The periodic pass applies it too.
    await log.close();
    log = await openEmbeddedLog({ dir, cleanupIntervalMs: 20, retentionBytes: 8_000 });
    await fill('defaulted', 30, 30);
    const deadline = Date.now() + 10_000;
    while ((await log.beginningOffset(tp('defaulted'))) < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await log.beginningOffset(tp('defaulted'))).toBeGreaterThanOrEqual(50);
  });

  it('refuses a bound below -1, and reads LOG_RETENTION_BYTES (default -1, unlimited)', async () => {
    await expect(log.ensureTopic('bad', { partitions: 1, retentionBytes: -5 })).rejects.toThrow(/retentionBytes/);
    expect(readLogRetentionBytes({})).toBe(-1);
    expect(readLogRetentionBytes({ LOG_RETENTION_BYTES: '1073741824' })).toBe(1_073_741_824);
    expect(() => readLogRetentionBytes({ LOG_RETENTION_BYTES: '-2' })).toThrow(/LOG_RETENTION_BYTES/);
  });
});

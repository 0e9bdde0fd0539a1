import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { jsonSerde, stringSerde } from '../../state/Serde.js';
import { windowStore } from '../../state/Stores.js';
import { changelogTopicConfig } from '../../state/StoreBuilder.js';
import type { RocksDBWindowStore } from '../../state/RocksDBWindowStore.js';
import { decodeTimeIndexKey, decodeWindowKey, encodeTime, windowKey } from '../../state/WindowKeySchema.js';
import { RocksDBEngine } from '../../state/RocksDBEngine.js';
import { Keyspace, keyspaceRange } from '../../state/StoreKeyspace.js';
import { MemoryChangelog } from './support.js';
import { TempDirs } from '../support/temp-dir.js';

const dirs = new TempDirs();
const open: RocksDBWindowStore<string, number>[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  dirs.removeAll();
});

const SIZE = 1000;
const RETENTION = 5000;
const builder = windowStore('clicks', { windowSizeMs: SIZE, retentionMs: RETENTION }, stringSerde, jsonSerde<number>());

function newStore(): RocksDBWindowStore<string, number> {
  const store = builder.build('app');
  open.push(store);
  return store;
}

async function commit(store: RocksDBWindowStore<string, number>, changelog: MemoryChangelog, sourceOffset: number) {
  changelog.append(store.drainChangelog(0, String(sourceOffset)));
  await store.flush(changelog.endOffset);
}

/** Window starts actually on disk (data and time index), read with the store closed. */
async function windowStartsOnDisk(dir: string): Promise<{ data: number[]; index: number[] }> {
  const engine = await RocksDBEngine.open(dir, 'clicks');
  try {
    const data = [...engine.scan(keyspaceRange(Keyspace.Data))].map(([k]) => decodeWindowKey(k.subarray(1)).windowStart);
    const index = [...engine.scan(keyspaceRange(Keyspace.TimeIndex))].map(([k]) => decodeTimeIndexKey(k.subarray(1)).windowStart);
    return { data: data.sort((a, b) => a - b), index: index.sort((a, b) => a - b) };
  } finally {
    await engine.close();
  }
}

const windows = (entries: { key: { key: string; windowStart: number }; value: number }[]) =>
  entries.map((e) => [e.key.key, e.key.windowStart, e.value]);

describe('WindowKeySchema', () => {
  test('window keys round-trip and sort by key (length first), then window start (negative starts too)', () => {
    const keys = [
      windowKey(Buffer.from('a'), -5),
      windowKey(Buffer.from('a'), 0),
      windowKey(Buffer.from('a'), 2 ** 40),
      windowKey(Buffer.from('b'), 3),
      windowKey(Buffer.from('ab'), -1),
    ];
    const sorted = [...keys].sort(Buffer.compare);
    expect(sorted).toEqual(keys);
    expect(decodeWindowKey(keys[2])).toEqual({ key: Buffer.from('a'), windowStart: 2 ** 40 });
    expect(Buffer.compare(encodeTime(-1), encodeTime(0))).toBe(-1);
  });
});

describe('RocksDBWindowStore', () => {
  test('builder asks for a compact,delete changelog retained beyond the store retention', () => {
    expect(builder.changelogCleanupPolicy).toBe('compact,delete');
    expect(changelogTopicConfig(builder, 2)).toEqual({
      partitions: 2,
      cleanupPolicy: 'compact,delete',
      retentionMs: RETENTION + 24 * 3600 * 1000,
    });
    expect(builder.build('app').changelogTopic).toBe('app-clicks-changelog');
    expect(() => windowStore('w', { windowSizeMs: 1000, retentionMs: 10 }, stringSerde, stringSerde)).toThrow(/retentionMs/);
  });

  test('fetch, fetchRange and fetchAll over buffered and flushed windows', async () => {
    const store = newStore();
    await store.open(dirs.make());
    const changelog = new MemoryChangelog();
    store.advanceStreamTime(3000);
    store.put('a', 1, 0);
    store.put('a', 2, 1000);
    store.put('ab', 3, 1000);
    store.put('b', 4, 2000);
    await commit(store, changelog, 0);
    store.put('a', 20, 1000); // buffered overwrite of a flushed window
    store.put('a', 5, 3000); // buffered new window
    store.put('b', null, 2000); // buffered delete of a flushed window

    expect(store.fetch('a', 0)).toBe(1);
    expect(store.fetch('a', 1000)).toBe(20);
    expect(store.fetch('b', 2000)).toBeUndefined();
    expect(store.fetch('zzz', 0)).toBeUndefined();
    expect(windows(store.fetchRange('a', 0, 3000))).toEqual([
      ['a', 0, 1],
      ['a', 1000, 20],
      ['a', 3000, 5],
    ]);
    expect(windows(store.fetchRange('a', 500, 1500))).toEqual([['a', 1000, 20]]);
    // 'ab' shares a prefix with 'a' but must never show up in a's range.
    expect(windows(store.fetchRange('ab', 0, 9999))).toEqual([['ab', 1000, 3]]);
    expect(windows(store.fetchAll(0, 3000))).toEqual([
      ['a', 0, 1],
      ['a', 1000, 20],
      ['ab', 1000, 3],
      ['a', 3000, 5],
    ]);
    expect(windows(store.fetchAll(1000, 2000))).toEqual([
      ['a', 1000, 20],
      ['ab', 1000, 3],
    ]);
  });

  test('retention: expired windows disappear from reads at once and from disk at flush', async () => {
    const dir = dirs.make();
    const store = newStore();
    await store.open(dir);
    const changelog = new MemoryChangelog();
    for (let t = 0; t <= 9000; t += 1000) {
      store.advanceStreamTime(t);
      store.put('k', t, t);
    }
    // stream time 9000, retention 5000: windows starting before 4000 are expired.
    expect(store.fetch('k', 3000)).toBeUndefined();
    expect(store.fetch('k', 4000)).toBe(4000);
    await commit(store, changelog, 0);
    expect(windows(store.fetchAll(0, 20000)).map((w) => w[1])).toEqual([4000, 5000, 6000, 7000, 8000, 9000]);

    store.put('k', 1, 1000); // write to an expired window: dropped
    expect(store.fetch('k', 1000)).toBeUndefined();

    store.advanceStreamTime(12000);
    await commit(store, changelog, 1);
    await store.close();
    expect(await windowStartsOnDisk(dir)).toEqual({ data: [7000, 8000, 9000], index: [7000, 8000, 9000] });
    // Reopened: the stream time and the on-disk deletions survived.
    expect(await store.open(dir)).toBe(changelog.endOffset);
    expect(store.streamTime).toBe(12000);
    expect(windows(store.fetchRange('k', 0, 20000)).map((w) => w[1])).toEqual([7000, 8000, 9000]);
  });

  test('stream time that was never committed does not expire windows on disk (a replay still needs them)', async () => {
    const dir = dirs.make();
    const store = newStore();
    await store.open(dir);
    const changelog = new MemoryChangelog();
    store.advanceStreamTime(2000);
    store.put('k', 1, 1000);
    await commit(store, changelog, 0);
    store.advanceStreamTime(50_000); // processed, then crashed before the next commit
    expect(store.fetch('k', 1000)).toBeUndefined();
    await store.close();
    await store.open(dir);
    expect(store.streamTime).toBe(2000);
    expect(store.fetch('k', 1000)).toBe(1);
  });

  test('expiry is not written to the changelog', async () => {
    const store = newStore();
    await store.open(dirs.make());
    const changelog = new MemoryChangelog();
    store.advanceStreamTime(1000);
    store.put('k', 1, 1000);
    await commit(store, changelog, 0);
    store.advanceStreamTime(100_000);
    expect(store.drainChangelog(0, '1')).toEqual([]);
  });

  test('restore into an empty directory gives the same windows and skips expired ones', async () => {
    const dir = dirs.make();
    const changelog = new MemoryChangelog();
    const original = newStore();
    await original.open(dir);
    for (let t = 0; t <= 20000; t += 500) {
      original.advanceStreamTime(t);
      original.put(`user-${t % 3}`, t, Math.floor(t / SIZE) * SIZE);
      if (t % 2000 === 0) await commit(original, changelog, t);
    }
    await commit(original, changelog, 99);
    const expected = original.fetchAll(0, Number.MAX_SAFE_INTEGER);
    expect(expected.length).toBeGreaterThan(0);
    expect(Math.min(...expected.map((e) => e.key.windowStart))).toBeGreaterThanOrEqual(20000 - RETENTION);
    // The changelog still holds the windows that expired since (compact,delete keeps them a while).
    expect(changelog.records.some((r) => decodeWindowKey(r.key as Buffer).windowStart < 20000 - RETENTION)).toBe(true);
    await original.close();

    rmSync(join(dir, 'clicks'), { recursive: true, force: true });
    const restored = newStore();
    expect(await restored.open(dir)).toBeUndefined();
    for (let offset = 0; offset < changelog.endOffset; offset += 10) {
      await restored.restore(changelog.read(offset, 10));
    }
    await restored.finishRestore(changelog.endOffset);
    expect(restored.streamTime).toBe(20000);
    expect(restored.fetchAll(0, Number.MAX_SAFE_INTEGER)).toEqual(expected);

    // Nothing expired reached the disk, and the stream time survives a reopen.
    await restored.close();
    const onDisk = await windowStartsOnDisk(dir);
    const expectedStarts = expected.map((e) => e.key.windowStart).sort((a, b) => a - b);
    expect(onDisk).toEqual({ data: expectedStarts, index: expectedStarts });
    expect(await restored.open(dir)).toBe(changelog.endOffset);
    expect(restored.streamTime).toBe(20000);
    expect(restored.fetchAll(0, Number.MAX_SAFE_INTEGER)).toEqual(expected);
  });

  test('changelog records carry the window in their key and the stream time in a header', async () => {
    const store = newStore();
    await store.open(dirs.make());
    store.advanceStreamTime(7500);
    store.put('k', 1, 7000);
    store.put('k', 2, 7000);
    const records = store.drainChangelog(1, '9');
    expect(records).toHaveLength(1);
    expect(decodeWindowKey(records[0].key as Buffer)).toEqual({ key: Buffer.from('k'), windowStart: 7000 });
    expect(records[0].value?.toString()).toBe('2');
    expect(records[0].headers).toEqual({ source_offset: '9', stream_time: '7500' });
    expect(records[0].partition).toBe(1);
  });
});

describe('window start encoding', () => {
  test('round-trips and keeps numeric order across the safe integer range', () => {
    const times = [-(2 ** 53) + 1, -(2 ** 40) - 7, -4294967297, -4294967296, -1, 0, 1, 4294967295, 4294967296, 1_700_000_000_123, 2 ** 53 - 1];
    const encoded = times.map((t) => windowKey(Buffer.from('k'), t));
    expect(encoded.map((e) => decodeWindowKey(e).windowStart)).toEqual(times);
    expect([...encoded].reverse().sort(Buffer.compare)).toEqual(encoded);
    expect(() => encodeTime(1.5)).toThrow(RangeError);
  });
});

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { jsonSerde, stringSerde } from '../../state/Serde.js';
import { keyValueStore, windowStore } from '../../state/Stores.js';
import type { RocksDBKeyValueStore } from '../../state/RocksDBKeyValueStore.js';
import type { RocksDBWindowStore } from '../../state/RocksDBWindowStore.js';
import { decodeWindowKey } from '../../state/WindowKeySchema.js';
import { MemoryChangelog } from './support.js';
import { TempDirs } from '../support/temp-dir.js';

/**
 * Buffered writes keep the value object they were serialized from, so reads between commits
 * return it without deserializing (and the window store reuses a fetch's key bytes for the put
 * after it). What reaches the changelog and RocksDB, and when, must not change.
 */
interface Stats {
  count: number;
  tags: string[];
}

const dirs = new TempDirs();
const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  dirs.removeAll();
});

const windows = windowStore('stats', { windowSizeMs: 1000, retentionMs: 60_000 }, stringSerde, jsonSerde<Stats>());
const table = keyValueStore('table', stringSerde, jsonSerde<Stats>());

function newWindowStore(): RocksDBWindowStore<string, Stats> {
  const store = windows.build('app');
  open.push(store);
  return store;
}

function newTable(): RocksDBKeyValueStore<string, Stats> {
  const store = table.build('app');
  open.push(store);
  return store;
}

async function commit(store: RocksDBWindowStore<string, Stats> | RocksDBKeyValueStore<string, Stats>, changelog: MemoryChangelog, sourceOffset: number) {
  changelog.append(store.drainChangelog(0, String(sourceOffset)));
  await store.flush(changelog.endOffset);
}

const stats = (count: number): Stats => ({ count, tags: [`t${count}`] });

describe('window store: buffered value objects', () => {
  test('a fetch between put and flush returns the object put; after the flush an equal copy from the bytes', async () => {
    const store = newWindowStore();
    await store.open(dirs.make());
    const changelog = new MemoryChangelog();
    const value = stats(1);
    store.put('a', value, 0);
    expect(store.fetch('a', 0)).toBe(value);
    changelog.append(store.drainChangelog(0, '0'));
    // Drained but not yet flushed: still the buffered object.
    expect(store.fetch('a', 0)).toBe(value);
    await store.flush(changelog.endOffset);
    const fromDisk = store.fetch('a', 0);
    expect(fromDisk).toEqual(value);
    expect(fromDisk).not.toBe(value);
  });

  test('changelog bytes are the serialization at put time, one record per window, last value wins', async () => {
    const store = newWindowStore();
    await store.open(dirs.make());
    store.advanceStreamTime(2000);
    for (let n = 1; n <= 5; n++) {
      const previous = store.fetch('a', 1000) ?? stats(0);
      store.put('a', { count: previous.count + n, tags: [...previous.tags, `n${n}`] }, 1000);
    }
    store.put('b', stats(7), 1000);
    const records = store.drainChangelog(0, '4');
    const byKey = new Map(records.map((r) => [decodeWindowKey(r.key as Buffer).key.toString(), r.value!.toString()]));
    expect(byKey).toEqual(
      new Map([
        ['a', JSON.stringify({ count: 15, tags: ['t0', 'n1', 'n2', 'n3', 'n4', 'n5'] })],
        ['b', JSON.stringify(stats(7))],
      ]),
    );
  });

  test('a value that cannot be serialized fails the put, and nothing is buffered', async () => {
    const store = newWindowStore();
    await store.open(dirs.make());
    const cyclic = stats(1) as Stats & { self?: unknown };
    cyclic.self = cyclic;
    expect(() => store.put('a', cyclic, 0)).toThrow(/circular/i);
    expect(store.fetch('a', 0)).toBeUndefined();
    expect(store.drainChangelog(0, '0')).toEqual([]);
  });

  test('a fetch followed by a put of another key or window writes that one, not the fetched one', async () => {
    const store = newWindowStore();
    await store.open(dirs.make());
    store.put('a', stats(1), 0);
    expect(store.fetch('a', 0)).toEqual(stats(1));
    store.put('b', stats(2), 0);
    expect(store.fetch('a', 1000)).toBeUndefined();
    store.put('a', stats(3), 1000);
    expect(store.fetch('a', 0)).toEqual(stats(1));
    expect(store.fetch('b', 0)).toEqual(stats(2));
    expect(store.fetch('a', 1000)).toEqual(stats(3));
    store.put('a', null, 0);
    expect(store.fetch('a', 0)).toBeUndefined();
  });

  test('writes after the drain stay buffered with their objects; the flush persists only what was drained', async () => {
    const dir = dirs.make();
    const store = newWindowStore();
    await store.open(dir);
    const changelog = new MemoryChangelog();
    store.put('a', stats(1), 0);
    changelog.append(store.drainChangelog(0, '0'));
    const later = stats(2);
    store.put('a', later, 0);
    await store.flush(changelog.endOffset);
    expect(store.fetch('a', 0)).toBe(later);
    await store.close();
    // Reopened: the flushed (drained) value, not the later buffered one.
    const reopened = newWindowStore();
    expect(await reopened.open(dir)).toBe(changelog.endOffset);
    expect(reopened.fetch('a', 0)).toEqual(stats(1));
  });

  test('a crash between puts and the commit loses the uncommitted puts only, and the store equals its changelog', async () => {
    const dir = dirs.make();
    const changelog = new MemoryChangelog();
    const store = newWindowStore();
    await store.open(dir);
    store.advanceStreamTime(5000);
    for (let n = 0; n < 20; n++) {
      const windowStart = (n % 4) * 1000;
      const current = store.fetch(`k${n % 3}`, windowStart) ?? stats(0);
      store.put(`k${n % 3}`, { count: current.count + 1, tags: current.tags }, windowStart);
      if (n === 9) await commit(store, changelog, n);
    }
    const committed = new Map(changelog.records.map((r) => [(r.key as Buffer).toString('latin1'), r.value!.toString()]));
    // Crash: the buffered puts of records 10..19 never reach the changelog or the disk.
    await store.close();
    const reopened = newWindowStore();
    expect(await reopened.open(dir)).toBe(changelog.endOffset);
    const afterCrash = reopened.fetchAll(0, Number.MAX_SAFE_INTEGER);
    expect(afterCrash.map((e) => e.value.count).reduce((a, b) => a + b, 0)).toBe(10);
    expect(new Map(afterCrash.map((e) => [`${e.key.key}@${e.key.windowStart}`, JSON.stringify(e.value)]))).toEqual(
      new Map([...committed].map(([key, value]) => {
        const decoded = decodeWindowKey(Buffer.from(key, 'latin1'));
        return [`${decoded.key.toString()}@${decoded.windowStart}`, value];
      })),
    );
    // A restore from the changelog into an empty directory gives the same store.
    await reopened.close();
    rmSync(join(dir, 'stats'), { recursive: true, force: true });
    const restored = newWindowStore();
    expect(await restored.open(dir)).toBeUndefined();
    await restored.restore(changelog.read(0, changelog.endOffset));
    await restored.finishRestore(changelog.endOffset);
    expect(restored.fetchAll(0, Number.MAX_SAFE_INTEGER)).toEqual(afterCrash);
  });
});

describe('key-value store: buffered value objects', () => {
  test('get returns the object put until the flush, then an equal copy; deletes hide it', async () => {
    const store = newTable();
    await store.open(dirs.make());
    const changelog = new MemoryChangelog();
    const value = stats(3);
    store.put('a', value);
    expect(store.get('a')).toBe(value);
    await commit(store, changelog, 0);
    expect(changelog.records.map((r) => r.value!.toString())).toEqual([JSON.stringify(value)]);
    expect(store.get('a')).toEqual(value);
    expect(store.get('a')).not.toBe(value);
    store.delete('a');
    expect(store.get('a')).toBeUndefined();
    expect(store.all()).toEqual([]);
  });
});

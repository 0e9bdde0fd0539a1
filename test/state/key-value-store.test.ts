import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { jsonSerde, stringSerde } from '../../state/Serde.js';
import { keyValueStore } from '../../state/Stores.js';
import type { RocksDBKeyValueStore } from '../../state/RocksDBKeyValueStore.js';
import { changelogTopicConfig, changelogTopicName, type StoreBuilder } from '../../state/StoreBuilder.js';
import { MemoryChangelog } from './support.js';
import { TempDirs } from '../support/temp-dir.js';

const dirs = new TempDirs();
const open: RocksDBKeyValueStore<string, unknown>[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  dirs.removeAll();
});

function newStore<V = number>(options: { registry?: Registry; restoreBatchSize?: number } = {}): RocksDBKeyValueStore<string, V> {
  const store = keyValueStore('counts', stringSerde, jsonSerde<V>(), options).build('app');
  open.push(store as RocksDBKeyValueStore<string, unknown>);
  return store;
}

/** The runtime's commit: drain into the changelog, "commit", then flush with the end offset. */
function commit<V>(store: RocksDBKeyValueStore<string, V>, changelog: MemoryChangelog, sourceOffset: number): void {
  changelog.append(store.drainChangelog(0, String(sourceOffset)));
}

describe('RocksDBKeyValueStore', () => {
  test('reads keys of every kind back from RocksDB: printable ASCII (read by its text), other chars, string and JSON keys', async () => {
    const dir = dirs.make();
    const keys = ['user_1', 'caf\u00e9', '\u{1F600}', 'tab\tkey', '', 'x'.repeat(300)];
    const strings = newStore();
    const objects = keyValueStore('objects', jsonSerde<{ id: string }>(), jsonSerde<number>()).build('app');
    await strings.open(dir);
    await objects.open(dir);
    keys.forEach((key, i) => {
      strings.put(key, i);
      objects.put({ id: key }, i);
    });
    const changelog = new MemoryChangelog();
    for (const store of [strings, objects]) {
      changelog.append(store.drainChangelog(0, '0'));
      await store.flush(changelog.endOffset);
      await store.close();
    }
    open.splice(0);
    // Reopened: nothing buffered or cached, every read goes to RocksDB.
    const reopened = newStore();
    const reopenedObjects = keyValueStore('objects', jsonSerde<{ id: string }>(), jsonSerde<number>()).build('app');
    await reopened.open(dir);
    await reopenedObjects.open(dir);
    try {
      expect(keys.map((key) => reopened.get(key))).toEqual(keys.map((_, i) => i));
      expect(keys.map((key) => reopenedObjects.get({ id: key }))).toEqual(keys.map((_, i) => i));
      expect([reopened.get('user_2'), reopened.get('caf\u00e8'), reopenedObjects.get({ id: 'user_2' })]).toEqual([undefined, undefined, undefined]);
    } finally {
      await reopenedObjects.close();
    }
  });

  test('names its changelog <appId>-<store>-changelog and asks for a compacted topic', () => {
    const builder = keyValueStore('counts', stringSerde, jsonSerde<number>());
    expect(changelogTopicName('app', 'counts')).toBe('app-counts-changelog');
    expect(builder.build('app').changelogTopic).toBe('app-counts-changelog');
    expect(builder.changelogCleanupPolicy).toBe('compact');
    expect(changelogTopicConfig(builder, 4)).toEqual({ partitions: 4, cleanupPolicy: 'compact' });
    expect(() => keyValueStore('bad/name', stringSerde, stringSerde)).toThrow(/store name/);
    // The runtime's builder contract (checked by tsc): our builders plug straight into it.
    const forRuntime: StoreBuilder = builder;
    expect(forRuntime.build('app').name).toBe('counts');
  });

  test('get/put/delete see buffered writes, and the same after flush and reopen', async () => {
    const dir = dirs.make();
    const store = newStore();
    expect(await store.open(dir)).toBeUndefined();
    store.put('a', 1);
    store.put('b', 2);
    store.put('a', 3);
    store.delete('b');
    expect(store.get('a')).toBe(3);
    expect(store.get('b')).toBeUndefined();
    expect(store.get('missing')).toBeUndefined();

    const changelog = new MemoryChangelog();
    commit(store, changelog, 10);
    await store.flush(changelog.endOffset);
    expect(store.get('a')).toBe(3);
    expect(store.get('b')).toBeUndefined();

    // Overwrite and delete what is on disk: the buffer must hide the stored values.
    store.put('c', 5);
    store.delete('a');
    expect(store.get('a')).toBeUndefined();
    expect(store.get('c')).toBe(5);
    commit(store, changelog, 11);
    await store.flush(changelog.endOffset);

    await store.close();
    expect(await store.open(dir)).toBe(changelog.endOffset);
    expect(store.get('a')).toBeUndefined();
    expect(store.get('c')).toBe(5);
  });

  test('writes that were never flushed are gone after close (they were not committed)', async () => {
    const dir = dirs.make();
    const store = newStore();
    await store.open(dir);
    const changelog = new MemoryChangelog();
    store.put('kept', 1);
    commit(store, changelog, 0);
    await store.flush(changelog.endOffset);
    store.put('drained-not-flushed', 2);
    store.drainChangelog(0, '1');
    store.put('pending', 3);
    await store.close();

    expect(await store.open(dir)).toBe(1);
    expect(store.all()).toEqual([{ key: 'kept', value: 1 }]);
  });

  test('flush writes only drained writes; later writes wait for the next commit', async () => {
    const dir = dirs.make();
    const store = newStore();
    await store.open(dir);
    store.put('first', 1);
    const drained = store.drainChangelog(0, '5');
    store.put('second', 2); // processed after the drain, while the transaction commits
    await store.flush(drained.length);
    expect(store.get('second')).toBe(2);
    await store.close();
    expect(await store.open(dir)).toBe(1);
    expect(store.get('first')).toBe(1);
    expect(store.get('second')).toBeUndefined();
  });

  test('range and all merge buffer and disk in serialized-key order', async () => {
    const dir = dirs.make();
    const store = newStore();
    await store.open(dir);
    const changelog = new MemoryChangelog();
    for (const key of ['d', 'b', 'f', 'a']) store.put(key, key.charCodeAt(0));
    commit(store, changelog, 0);
    await store.flush(changelog.endOffset);
    store.put('c', 99); // buffered, between stored keys
    store.put('d', 100); // buffered overwrite of a stored key
    store.delete('f'); // buffered delete of a stored key
    store.put('g', 7); // buffered, after all stored keys

    expect(store.all().map((e) => e.key)).toEqual(['a', 'b', 'c', 'd', 'g']);
    expect(store.range('b', 'd')).toEqual([
      { key: 'b', value: 98 },
      { key: 'c', value: 99 },
      { key: 'd', value: 100 },
    ]);
    expect(store.range('e', 'z')).toEqual([{ key: 'g', value: 7 }]);
    expect(store.range('z', 'a')).toEqual([]);
    expect(store.approximateNumEntries()).toBeGreaterThanOrEqual(4);
  });

  test('drainChangelog: last write per key, tombstones for deletes, source_offset header, task partition', async () => {
    const store = newStore();
    await store.open(dirs.make());
    store.put('a', 1);
    store.put('b', 2);
    store.put('a', 3);
    store.delete('b');
    store.put('c', 4);
    const records = store.drainChangelog(3, '42');
    const byKey = new Map(records.map((r) => [r.key?.toString(), r]));
    expect(records).toHaveLength(3);
    expect(byKey.get('a')?.value?.toString()).toBe('3');
    expect(byKey.get('b')?.value).toBeNull();
    expect(byKey.get('c')?.value?.toString()).toBe('4');
    for (const record of records) {
      expect(record.topic).toBe('app-counts-changelog');
      expect(record.partition).toBe(3);
      expect(record.headers).toEqual({ source_offset: '42' });
    }
    expect(store.drainChangelog(3, '43')).toEqual([]);
  });

  test('unlogged writes (IndexedKeyValueStore): stored with the commit, left out of the changelog, rebuilt by indexOnRestore', async () => {
    const indexed = () => {
      const store = keyValueStore('counts', stringSerde, jsonSerde<number>(), { indexOnRestore: (key, value) => (key.startsWith('s:') ? { key: `i:${value}`, value: 0 } : undefined) }).build('app');
      open.push(store as RocksDBKeyValueStore<string, unknown>);
      return store;
    };
    const changelog = new MemoryChangelog();
    const dir = dirs.make();
    const store = indexed();
    await store.open(dir);
    store.put('s:a', 7);
    store.putUnlogged('i:7', 0);
    store.putUnlogged('i:gone', 0);
    store.deleteUnlogged('i:gone');
    expect(store.get('i:7')).toBe(0);
    const records = store.drainChangelog(0, '1');
    expect(records.map((r) => r.key!.toString())).toEqual(['s:a']);
    changelog.append(records);
    await store.flush(changelog.endOffset);
    await store.close();
    // The local copy has both (flushed with the checkpoint), the changelog only the logged one.
    expect(await store.open(dir)).toBe(1);
    expect(store.all()).toEqual([{ key: 'i:7', value: 0 }, { key: 's:a', value: 7 }]);
    await store.close();

    // Restored into an empty directory: the unlogged entry comes back from its source.
    const restored = indexed();
    expect(await restored.open(dirs.make())).toBeUndefined();
    await restored.restore(changelog.records);
    await restored.finishRestore(changelog.endOffset);
    expect(restored.all()).toEqual([{ key: 'i:7', value: 0 }, { key: 's:a', value: 7 }]);
  });

  test('checkpoint is written with the data and returned by open()', async () => {
    const dir = dirs.make();
    const store = newStore();
    expect(await store.open(dir)).toBeUndefined();
    store.put('x', 1);
    store.drainChangelog(0, '0');
    await store.flush(17);
    await store.close();
    expect(await store.open(dir)).toBe(17);
    expect(store.get('x')).toBe(1);
    // A flush without writes still moves the checkpoint (e.g. after commit markers).
    await store.flush(20);
    await store.close();
    expect(await store.open(dir)).toBe(20);
  });

  test('data without a checkpoint is wiped on open (it has no changelog position)', async () => {
    const dir = dirs.make();
    const store = newStore();
    await store.open(dir);
    store.put('orphan', 1);
    store.drainChangelog(0, '0');
    await store.flush(undefined);
    await store.close();
    expect(await store.open(dir)).toBeUndefined();
    expect(store.all()).toEqual([]);
  });

  test('restore after the directory is deleted gives back the same contents', async () => {
    const dir = dirs.make();
    const changelog = new MemoryChangelog();
    const original = newStore<{ n: number }>({ restoreBatchSize: 7 });
    await original.open(dir);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 40; i++) {
        if ((i + round) % 9 === 0) original.delete(`k${i}`);
        else original.put(`k${i}`, { n: i * 100 + round });
      }
      commit(original, changelog, round);
      await original.flush(changelog.endOffset);
    }
    const expected = original.all();
    expect(expected.length).toBeGreaterThan(20);
    await original.close();

    rmSync(join(dir, 'counts'), { recursive: true, force: true });
    const restored = newStore<{ n: number }>({ restoreBatchSize: 7 });
    const checkpoint = await restored.open(dir);
    expect(checkpoint).toBeUndefined();
    // As the runtime does: read from the checkpoint (start) in pages, then finishRestore.
    for (let offset = checkpoint ?? 0; offset < changelog.endOffset; offset += 25) {
      await restored.restore(changelog.read(offset, 25));
    }
    await restored.finishRestore(changelog.endOffset);
    expect(restored.all()).toEqual(expected);
    await restored.close();
    expect(await restored.open(dir)).toBe(changelog.endOffset);
    expect(restored.all()).toEqual(expected);
  });

  test('an interrupted restore resumes from the checkpoint of its last written batch', async () => {
    const dir = dirs.make();
    const changelog = new MemoryChangelog();
    const source = newStore();
    await source.open(dirs.make());
    for (let i = 0; i < 30; i++) source.put(`k${String(i).padStart(2, '0')}`, i);
    commit(source, changelog, 0);

    const store = newStore({ restoreBatchSize: 10 });
    await store.open(dir);
    await store.restore(changelog.read(0, 20)); // "crash" before finishRestore
    await store.close();
    const resumeAt = await store.open(dir);
    expect(resumeAt).toBe(20);
    await store.restore(changelog.read(resumeAt ?? 0, 100));
    await store.finishRestore(changelog.endOffset);
    expect(store.all()).toHaveLength(30);
    expect(store.get('k29')).toBe(29);
  });

  test('counts gets, puts, deletes and restore records in the registry', async () => {
    const registry = new Registry();
    const store = newStore({ registry });
    await store.open(dirs.make());
    store.put('a', 1);
    store.get('a');
    store.get('b');
    store.delete('a');
    const changelog = new MemoryChangelog();
    changelog.append([{ topic: 't', key: Buffer.from('"r"'), value: Buffer.from('1') }]);
    await store.restore(changelog.read(0, 10));
    await store.finishRestore(1);
    const text = await registry.metrics();
    expect(text).toContain('streamline_store_gets_total{store="counts"} 2');
    expect(text).toContain('streamline_store_puts_total{store="counts"} 1');
    expect(text).toContain('streamline_store_deletes_total{store="counts"} 1');
    expect(text).toContain('streamline_store_restore_records_total{store="counts"} 1');
    expect(text).toMatch(/streamline_store_last_restore_duration_seconds\{store="counts"\} \d/);
    // A second builder on the same registry shares the metrics instead of throwing.
    expect(() => keyValueStore('other', stringSerde, stringSerde, { registry }).build('app')).not.toThrow();
  });

  test('read cache: serves repeated reads, follows flushes and restores, caches absence', async () => {
    const dir = dirs.make();
    const store = newStore();
    await store.open(dir);
    const changelog = new MemoryChangelog();
    store.put('hot', 1);
    commit(store, changelog, 0);
    await store.flush(changelog.endOffset);
    expect(store.get('hot')).toBe(1);
    expect(store.get('hot')).toBe(1);
    expect(store.get('cold')).toBeUndefined();
    expect(store.get('cold')).toBeUndefined();
    const cache = (store as unknown as { readCache: { hits: number; misses: number } }).readCache;
    expect(cache.hits).toBe(2);
    expect(cache.misses).toBe(2);

    // A committed overwrite and a committed insert of a key cached as absent.
    store.put('hot', 2);
    store.put('cold', 3);
    commit(store, changelog, 1);
    await store.flush(changelog.endOffset);
    expect(store.get('hot')).toBe(2);
    expect(store.get('cold')).toBe(3);

    // Restore writes under the cache (a global table refreshing while processors read it).
    changelog.append([
      { topic: store.changelogTopic, key: Buffer.from('hot'), value: Buffer.from('4') },
      { topic: store.changelogTopic, key: Buffer.from('cold'), value: null },
    ]);
    await store.restore(changelog.read(changelog.endOffset - 2, 2));
    await store.finishRestore(changelog.endOffset);
    expect(store.get('hot')).toBe(4);
    expect(store.get('cold')).toBeUndefined();
  });

  test('refuses use before open', () => {
    const store = newStore();
    expect(() => store.put('a', 1)).toThrow(/not open/);
    expect(() => store.get('a')).toThrow(/not open/);
  });
});

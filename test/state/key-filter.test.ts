import { jest } from '@jest/globals';
import { jsonSerde, stringSerde } from '../../state/Serde.js';
import { keyValueStore } from '../../state/Stores.js';
import { KeyFilter, MIN_KEY_FILTER_CAPACITY } from '../../state/KeyFilter.js';
import { RocksDBEngine } from '../../state/RocksDBEngine.js';
import type { RocksDBKeyValueStore } from '../../state/RocksDBKeyValueStore.js';
import { MemoryChangelog } from './support.js';
import { ITEMS_STORE, USERS_STORE, referenceTables } from '../../processors/Enrichment.js';
import { StreamsBuilder } from '../../topology/dsl/StreamsBuilder.js';
import { TempDirs } from '../support/temp-dir.js';

const dirs = new TempDirs();
const open: RocksDBKeyValueStore<string, number>[] = [];

afterEach(async () => {
  jest.restoreAllMocks();
  for (const store of open.splice(0)) await store.close();
  dirs.removeAll();
});

describe('KeyFilter', () => {
  test('never misses an added id, and rules out ~99% of the others', () => {
    const filter = new KeyFilter(10_000);
    for (let i = 0; i < 10_000; i++) filter.add(`s:attempt:9:user_${i % 977}:att_${i}`);
    for (let i = 0; i < 10_000; i++) expect(filter.mightContain(`s:attempt:9:user_${i % 977}:att_${i}`)).toBe(true);
    let falsePositives = 0;
    for (let i = 10_000; i < 30_000; i++) if (filter.mightContain(`s:attempt:9:user_${i % 977}:att_${i}`)) falsePositives++;
    expect(falsePositives / 20_000).toBeLessThan(0.02);
  });

  test('answers maybe for ids that are not ASCII (built from UTF-8-decoded keys, they could differ)', () => {
    const filter = new KeyFilter(100);
    filter.add('s:caf\u00e9');
    expect(filter.mightContain('s:caf\u00c3\u00a9')).toBe(true);
    expect(filter.mightContain('s:\u00ff-never-added')).toBe(true);
    filter.add('\x01s:a', 1);
    expect(filter.mightContain('s:a')).toBe(true);
  });

  test('sized for more keys than 2^31 bits hold, it stays at 2^31 bits and still finds every added id', () => {
    // 300 million keys x 10 bits: 2^32 bits would wrap the array to length 0 (every probe unset:
    // a false negative for every key, dedupe letting duplicates through). Lazily zeroed pages: ~no RSS.
    const filter = new KeyFilter(300_000_000);
    const ids = Array.from({ length: 1000 }, (_, i) => `s:attempt:${i}`);
    for (const id of ids) filter.add(id);
    expect(ids.filter((id) => !filter.mightContain(id))).toEqual([]);
    expect(filter.mightContain('s:never-added')).toBe(false);
  });

  test('is full once more ids were added than its capacity', () => {
    const filter = new KeyFilter(100);
    for (let i = 0; i < 100; i++) filter.add(String(i));
    expect(filter.full).toBe(false);
    filter.add('one more');
    expect(filter.full).toBe(true);
  });
});

describe('key-value store with a key filter', () => {
  function newStore(): RocksDBKeyValueStore<string, number> {
    // The dedupe layout: an s: entry implies an unlogged x: index entry, rebuilt on restore.
    const store = keyValueStore('filtered', stringSerde, jsonSerde<number>(), {
      keyFilter: true,
      readCacheEntries: 0,
      indexOnRestore: (key, value) => (key.startsWith('s:') ? { key: `x:${key.slice(2)}`, value } : undefined),
    }).build('app');
    open.push(store);
    return store;
  }

  async function commit(store: RocksDBKeyValueStore<string, number>, changelog: MemoryChangelog): Promise<void> {
    changelog.append(store.drainChangelog(0, '0'));
    await store.flush(changelog.endOffset);
  }

  test('reads of absent keys skip RocksDB; every stored key is still read from it', async () => {
    const store = newStore();
    await store.open(dirs.make());
    const changelog = new MemoryChangelog();
    for (let i = 0; i < 100; i++) store.put(`s:${i}`, i);
    await commit(store, changelog);
    expect(store.get('s:absent')).toBeUndefined(); // starts the build
    await store.keyFilterSettled();
    const reads = jest.spyOn(RocksDBEngine.prototype, 'get');
    for (let i = 0; i < 1000; i++) expect(store.get(`s:absent-${i}`)).toBeUndefined();
    expect(reads.mock.calls.length).toBeLessThan(50);
    for (let i = 0; i < 100; i++) expect(store.get(`s:${i}`)).toBe(i);
  });

  test('keys flushed after the filter was built, and put again after a delete, are found', async () => {
    const store = newStore();
    await store.open(dirs.make());
    const changelog = new MemoryChangelog();
    expect(store.get('s:a')).toBeUndefined(); // builds the filter on an empty store
    await store.keyFilterSettled();
    store.put('s:a', 1);
    await commit(store, changelog);
    expect(store.get('s:a')).toBe(1);
    store.delete('s:a');
    await commit(store, changelog);
    expect(store.get('s:a')).toBeUndefined();
    store.put('s:a', 2);
    await commit(store, changelog);
    expect(store.get('s:a')).toBe(2);
  });

  test('a reopened store and a restored one find every key, the restore-derived index included', async () => {
    const dir = dirs.make();
    const store = newStore();
    await store.open(dir);
    const changelog = new MemoryChangelog();
    for (let i = 0; i < 50; i++) {
      store.put(`s:${i}`, i);
      store.putUnlogged(`x:${i}`, i);
    }
    await commit(store, changelog);
    await store.close();
    open.splice(0);

    const reopened = newStore();
    await reopened.open(dir);
    for (let i = 0; i < 50; i++) expect([reopened.get(`s:${i}`), reopened.get(`x:${i}`)]).toEqual([i, i]);

    // A restore into a store whose filter is built already (a global table restored while processors read).
    const restored = newStore();
    await restored.open(dirs.make());
    expect(restored.get('s:0')).toBeUndefined();
    await restored.keyFilterSettled();
    await restored.restore(changelog.records);
    await restored.finishRestore(changelog.endOffset);
    for (let i = 0; i < 50; i++) expect([restored.get(`s:${i}`), restored.get(`x:${i}`)]).toEqual([i, i]);
  });

  test('keys that are not ASCII are read from RocksDB, and found after a reopen', async () => {
    const dir = dirs.make();
    const store = newStore();
    await store.open(dir);
    store.put('s:caf\u00e9', 1);
    store.put('s:\u{1F600}', 2);
    await commit(store, new MemoryChangelog());
    await store.close();
    open.splice(0);
    const reopened = newStore();
    await reopened.open(dir);
    expect([reopened.get('s:caf\u00e9'), reopened.get('s:\u{1F600}'), reopened.get('s:caf\u00e8')]).toEqual([1, 2, undefined]);
  });

  test('with a prefix it covers only those keys: others are read from RocksDB and never scanned', async () => {
    const store = keyValueStore('prefixed', stringSerde, jsonSerde<number>(), { keyFilter: { prefix: 's:' }, readCacheEntries: 0 }).build('app');
    open.push(store);
    await store.open(dirs.make());
    const changelog = new MemoryChangelog();
    for (let i = 0; i < 100; i++) {
      store.put(`s:${i}`, i);
      store.putUnlogged(`x:${i}`, i);
    }
    store.put('t:0', 0);
    await commit(store, changelog);
    const scanned: string[] = [];
    const cursor = RocksDBEngine.prototype.keyTextCursor;
    jest.spyOn(RocksDBEngine.prototype, 'keyTextCursor').mockImplementation(function (this: RocksDBEngine, range) {
      const inner = cursor.call(this, range);
      return { next: (visit) => inner.next((key) => visit(scanned[scanned.push(key) - 1]!)), close: () => inner.close() };
    });
    expect(store.get('s:absent')).toBeUndefined(); // starts the build
    await store.keyFilterSettled();
    const reads = jest.spyOn(RocksDBEngine.prototype, 'get');
    for (let i = 0; i < 100; i++) expect(store.get(`s:absent-${i}`)).toBeUndefined();
    // Two scans (one counts, one fills) of the 100 keys with the prefix, and of no other.
    expect(scanned).toHaveLength(200);
    expect(new Set(scanned).size).toBe(100);
    expect(scanned.every((key) => key.startsWith('\x01s:'))).toBe(true);
    const filteredReads = reads.mock.calls.length;
    expect(filteredReads).toBeLessThan(10);
    for (let i = 0; i < 100; i++) expect([store.get(`s:${i}`), store.get(`x:${i}`), store.get(`x:absent-${i}`)]).toEqual([i, i, undefined]);
    expect(store.get('t:0')).toBe(0);
    // Every read of a key outside the prefix went to RocksDB.
    expect(reads.mock.calls.length - filteredReads).toBeGreaterThanOrEqual(301);
  });

  test('past its capacity the filter is rebuilt from the stored keys and still finds every one', async () => {
    const store = newStore();
    await store.open(dirs.make());
    const changelog = new MemoryChangelog();
    expect(store.get('s:none')).toBeUndefined();
    await store.keyFilterSettled();
    const scans = jest.spyOn(RocksDBEngine.prototype, 'keyTextCursor');
    const total = MIN_KEY_FILTER_CAPACITY + 1000;
    for (let i = 0; i < total; i += 500) {
      for (let j = i; j < Math.min(total, i + 500); j++) store.put(`s:${j}`, j);
      await commit(store, changelog);
      expect(store.get(`s:${i}`)).toBe(i);
      await store.keyFilterSettled();
    }
    // One rebuild: a counting scan and a filling one.
    expect(scans).toHaveBeenCalledTimes(2);
    for (let i = 0; i < total; i++) expect(store.get(`s:${i}`)).toBe(i);
  });
});

describe("the enrichment's reference tables (table() and globalTable() with keyFilter)", () => {
  test.each([USERS_STORE, ITEMS_STORE])('%s: lookups of ids the table does not hold skip RocksDB; held ids are found', async (storeName) => {
    const builder = new StreamsBuilder();
    referenceTables(builder);
    const store = builder.topology.storeBuilder(storeName).build('app') as unknown as RocksDBKeyValueStore<string, number>;
    open.push(store);
    await store.open(dirs.make());
    const changelog = new MemoryChangelog();
    for (let i = 0; i < 100; i++) store.put(`user_${i}`, i);
    changelog.append(store.drainChangelog(0, '0'));
    await store.flush(changelog.endOffset);
    expect(store.get('user_absent')).toBeUndefined(); // starts the build
    await store.keyFilterSettled();
    const reads = jest.spyOn(RocksDBEngine.prototype, 'get');
    for (let i = 100; i < 1100; i++) expect(store.get(`user_${i}`)).toBeUndefined();
    expect(reads.mock.calls.length).toBeLessThan(50);
    for (let i = 0; i < 100; i++) expect(store.get(`user_${i}`)).toBe(i);
  });
});

import { jest } from '@jest/globals';
import { jsonSerde, stringSerde } from '../../state/Serde.js';
import { RocksDBEngine } from '../../state/RocksDBEngine.js';
import { keyValueStore } from '../../state/Stores.js';
import { MAX_GROWTH, NOT_DECODED, ReadCache, ReadCachePool } from '../../state/ReadCache.js';
import type { RocksDBKeyValueStore } from '../../state/RocksDBKeyValueStore.js';
import { MemoryChangelog } from './support.js';
import { TempDirs } from '../support/temp-dir.js';

const dirs = new TempDirs();
const open: RocksDBKeyValueStore<string, { n: number }>[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  dirs.removeAll();
});

describe('ReadCache', () => {
  test('stays within maxEntries and keeps a key that is read in every generation', () => {
    const cache = new ReadCache(10);
    cache.remember('hot', Buffer.from('1'));
    for (let i = 0; i < 100; i++) {
      cache.remember(`cold-${i}`, null);
      expect(cache.size).toBeLessThanOrEqual(10);
      expect(cache.get('hot')?.bytes?.toString()).toBe('1');
    }
    // A key read once and then never again is gone after two generations.
    expect(cache.get('cold-0')).toBeUndefined();
    expect(cache.get('cold-99')).toEqual({ bytes: null, decoded: NOT_DECODED });
  });

  test('update follows a flush only for keys it holds, and drops the decoded value', () => {
    const cache = new ReadCache(10);
    cache.remember('a', Buffer.from('1'), 1);
    cache.update('a', Buffer.from('2'));
    cache.update('b', Buffer.from('3'));
    expect(cache.get('a')).toEqual({ bytes: Buffer.from('2'), decoded: NOT_DECODED });
    expect(cache.get('b')).toBeUndefined();
  });

  test('0 entries caches nothing', () => {
    const cache = new ReadCache(0);
    cache.remember('a', Buffer.from('1'));
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});

describe('key-value store reads through the cache', () => {
  test('repeated reads of a committed key return one decoded object until the key changes', async () => {
    const store = keyValueStore('objects', stringSerde, jsonSerde<{ n: number }>()).build('app');
    open.push(store);
    await store.open(dirs.make());
    const changelog = new MemoryChangelog();
    store.put('a', { n: 1 });
    changelog.append(store.drainChangelog(0, '0'));
    await store.flush(changelog.endOffset);
    const first = store.get('a');
    expect(first).toEqual({ n: 1 });
    expect(store.get('a')).toBe(first);
    store.put('a', { n: 2 });
    changelog.append(store.drainChangelog(0, '1'));
    await store.flush(changelog.endOffset);
    const second = store.get('a');
    expect(second).toEqual({ n: 2 });
    expect(store.get('a')).toBe(second);
    // Restore writes under the cache: the next read sees the restored value.
    await store.restore([{ topic: store.changelogTopic, partition: 0, offset: changelog.endOffset, key: Buffer.from('a'), value: Buffer.from('{"n":3}'), headers: {}, timestamp: 0 }]);
    await store.finishRestore(changelog.endOffset + 1);
    expect(store.get('a')).toEqual({ n: 3 });
  });
});

describe('stores share their read cache entries', () => {
  test('a store read over more keys than its own bound borrows what the open stores leave unused', async () => {
    const store = keyValueStore('join-table', stringSerde, jsonSerde<{ n: number }>(), { readCacheEntries: 20 }).build('app');
    open.push(store);
    await store.open(dirs.make());
    const changelog = new MemoryChangelog();
    for (let i = 0; i < 100; i++) store.put(`user-${i}`, { n: i });
    changelog.append(store.drainChangelog(0, '0'));
    await store.flush(changelog.endOffset);
    const reads = jest.spyOn(RocksDBEngine.prototype, 'get');
    for (let pass = 0; pass < 10; pass++) for (let i = 0; i < 100; i++) expect(store.get(`user-${i}`)).toEqual({ n: i });
    reads.mockClear();
    for (let i = 0; i < 100; i++) store.get(`user-${i}`);
    // 100 keys read in turn through 20 entries of its own: every read would go to RocksDB.
    expect(reads).not.toHaveBeenCalled();
    reads.mockRestore();
  });
});

describe('ReadCache in a pool', () => {
  /** Reads keys 0..keys-1 round-robin, as a join table is read; the share of reads it answered in the last pass. */
  function readRoundRobin(cache: ReadCache, keys: number, passes: number): number {
    let hits = 0;
    for (let pass = 0; pass < passes; pass++) {
      hits = 0;
      for (let i = 0; i < keys; i++) {
        if (cache.get(`k${i}`) !== undefined) hits++;
        else cache.remember(`k${i}`, Buffer.from('v'));
      }
    }
    return hits / keys;
  }

  test('a cache whose keys do not fit borrows what the pool has spare until it answers most reads', () => {
    const pool = new ReadCachePool(() => 10_000);
    const cache = new ReadCache(100, pool);
    expect(readRoundRobin(cache, 600, 10)).toBe(1);
    expect(cache.capacity).toBeGreaterThanOrEqual(1200);
    expect(cache.capacity).toBeLessThanOrEqual(100 * MAX_GROWTH);
    // Without a pool the same reads never hit: 600 keys read in turn through 100 entries.
    expect(readRoundRobin(new ReadCache(100), 600, 10)).toBe(0);
  });

  test('grows no further than the pool budget, and a cache that hits does not grow', () => {
    const pool = new ReadCachePool(() => 400);
    const hot = new ReadCache(100, pool);
    readRoundRobin(hot, 10_000, 3);
    expect(hot.capacity).toBeLessThanOrEqual(400);
    expect(pool.held()).toBeLessThanOrEqual(400);
    const fits = new ReadCache(100, pool);
    expect(readRoundRobin(fits, 40, 20)).toBe(1);
    expect(fits.capacity).toBe(100);
  });

  test('gives back what it borrowed when the other caches fill their own share, and on clear', () => {
    let budget = 10_000;
    const pool = new ReadCachePool(() => budget);
    const borrower = new ReadCache(100, pool);
    readRoundRobin(borrower, 1000, 5);
    expect(borrower.capacity).toBeGreaterThanOrEqual(1000);
    // The budget is now what the caches' own bounds add up to, and another cache fills its own.
    budget = 200;
    const other = new ReadCache(100, pool);
    readRoundRobin(other, 100, 1);
    readRoundRobin(borrower, 1000, 10);
    expect(borrower.capacity).toBe(100);
    expect(other.size).toBeGreaterThanOrEqual(50);
    borrower.clear();
    expect(pool.held()).toBe(other.size);
  });
});

import { jsonSerde, stringSerde } from '../../state/Serde.js';
import { keyValueStore } from '../../state/Stores.js';
import { NOT_DECODED, ReadCache } from '../../state/ReadCache.js';
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

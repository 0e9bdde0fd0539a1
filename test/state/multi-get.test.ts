import { jest } from '@jest/globals';
import { jsonSerde, stringSerde } from '../../state/Serde.js';
import { keyValueStore } from '../../state/Stores.js';
import { RocksDBEngine } from '../../state/RocksDBEngine.js';
import type { RocksDBKeyValueStore } from '../../state/RocksDBKeyValueStore.js';
import { InMemoryKeyValueStore } from '../../state/InMemoryKeyValueStore.js';
import { getMany } from '../../state/StateStore.js';
import { MemoryChangelog } from './support.js';
import { TempDirs } from '../support/temp-dir.js';

const dirs = new TempDirs();
const open: Array<{ close(): Promise<void> | void }> = [];

afterEach(async () => {
  jest.restoreAllMocks();
  for (const store of open.splice(0)) await store.close();
  dirs.removeAll();
});

async function committedStore(entries: Record<string, number>, options: { keyFilter?: boolean } = {}): Promise<RocksDBKeyValueStore<string, number>> {
  const store = keyValueStore('seen', stringSerde, jsonSerde<number>(), options).build('app');
  open.push(store);
  const dir = dirs.make();
  await store.open(dir);
  for (const [key, value] of Object.entries(entries)) store.put(key, value);
  const changelog = new MemoryChangelog();
  changelog.append(store.drainChangelog(0, '0'));
  await store.flush(changelog.endOffset);
  // Reopened: the read cache is empty, so committed keys are only in RocksDB.
  await store.close();
  await store.open(dir);
  return store;
}

describe('getMany (MultiGetKeyValueStore)', () => {
  test('answers as get() would for buffered, deleted, stored, non-ASCII and absent keys, with one RocksDB multi-get', async () => {
    const store = await committedStore({ stored: 1, 'also-stored': 2, overwritten: 3, deleted: 4, 'é-key': 5 });
    store.put('buffered', 6);
    store.put('overwritten', 7);
    store.delete('deleted');
    const keys = ['stored', 'buffered', 'absent', 'overwritten', 'deleted', 'é-key', 'also-stored'];
    const engineGets = jest.spyOn(RocksDBEngine.prototype, 'get');
    const engineMultiGets = jest.spyOn(RocksDBEngine.prototype, 'getMany');

    const many = store.getMany(keys);

    expect(many).toEqual([1, 6, undefined, 7, undefined, 5, 2]);
    expect(engineGets).not.toHaveBeenCalled();
    expect(engineMultiGets).toHaveBeenCalledTimes(1);
    // Only the keys neither buffered nor cached went to RocksDB.
    expect(engineMultiGets.mock.calls[0]![0].map((key) => key.subarray(1).toString('utf8'))).toEqual(['stored', 'absent', 'é-key', 'also-stored']);
    expect(keys.map((key) => store.get(key))).toEqual(many);
  });

  test('remembers what RocksDB answered in the read cache, so the next reads do not go back to it', async () => {
    const store = await committedStore({ stored: 1 });
    expect(store.getMany(['stored', 'absent'])).toEqual([1, undefined]);
    const engineGets = jest.spyOn(RocksDBEngine.prototype, 'get');
    const engineMultiGets = jest.spyOn(RocksDBEngine.prototype, 'getMany');
    expect(store.getMany(['stored', 'absent'])).toEqual([1, undefined]);
    expect(store.get('stored')).toBe(1);
    expect(engineMultiGets).not.toHaveBeenCalled();
    expect(engineGets).not.toHaveBeenCalled();
  });

  test('keys the key filter rules out are answered absent without RocksDB', async () => {
    const store = await committedStore({ stored: 1 }, { keyFilter: true });
    store.get('warm-up'); // the first read starts the filter's build
    await (store as unknown as { keyFilter: { settled(): Promise<void> } }).keyFilter.settled();
    const engineMultiGets = jest.spyOn(RocksDBEngine.prototype, 'getMany');
    const absent = Array.from({ length: 50 }, (_, i) => `never-${i}`);
    expect(store.getMany([...absent, 'stored'])).toEqual([...absent.map(() => undefined), 1]);
    // At ~1 % false positives, a few of the absent keys may still be asked; 'stored' must be.
    const asked = engineMultiGets.mock.calls.flatMap(([keys]) => keys.map((key) => key.subarray(1).toString('latin1')));
    expect(asked).toContain('stored');
    expect(asked.length).toBeLessThan(10);
  });

  test('the getMany() helper reads one key at a time from stores without it', async () => {
    const store = new InMemoryKeyValueStore<string, number>({ name: 'plain', changelogTopic: 'app-plain-changelog', keySerde: stringSerde, valueSerde: jsonSerde<number>() });
    open.push(store);
    await store.open('');
    store.put('a', 1);
    store.put('c', 3);
    expect('getMany' in store).toBe(false);
    expect(getMany(store, ['a', 'b', 'c'])).toEqual([1, undefined, 3]);
  });
});

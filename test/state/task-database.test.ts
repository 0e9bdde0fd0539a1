import { jest } from '@jest/globals';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonSerde, stringSerde } from '../../state/Serde.js';
import { keyValueStore } from '../../state/Stores.js';
import { TASK_DATABASE_DIR, TaskDatabase } from '../../state/TaskDatabase.js';
import type { RocksDBKeyValueStore } from '../../state/RocksDBKeyValueStore.js';
import { MemoryChangelog } from './support.js';
import { TempDirs } from '../support/temp-dir.js';
import { rocksdbColumnOptions, structField } from '../support/rocksdb-options.js';

/** The stores of one task share one RocksDB (a column family each): issue 21 item 2. */
const dirs = new TempDirs();
const open: RocksDBKeyValueStore<string, number>[] = [];
afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  dirs.removeAll();
});

function kv(name: string): RocksDBKeyValueStore<string, number> {
  const store = keyValueStore(name, stringSerde, jsonSerde<number>()).build('app');
  open.push(store);
  return store;
}

async function commit(store: RocksDBKeyValueStore<string, number>, changelog: MemoryChangelog): Promise<number> {
  changelog.append(store.drainChangelog(0, '0'));
  await store.flush(changelog.endOffset);
  return changelog.endOffset;
}

/** RocksDB instances under dir (directories holding a CURRENT file). */
function instances(dir: string): string[] {
  const found: string[] = [];
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(at, entry.name));
      else if (entry.name === 'CURRENT') found.push(at);
    }
  };
  walk(dir);
  return found;
}

test('three stores of a task: one RocksDB, each store its own keys and checkpoint, across reopen in another order', async () => {
  const dir = dirs.make();
  const [a, b, c] = [kv('a'), kv('b'), kv('c')];
  const logs = [new MemoryChangelog(), new MemoryChangelog(), new MemoryChangelog()];
  // Opened one after another, as a task restores them: the database gains a column each time.
  for (const [i, store] of [a, b, c].entries()) {
    expect(await store.open(dir)).toBeUndefined();
    await store.finishRestore(0);
    store.put('k', i);
    store.put(`only-${store.name}`, 10 + i);
    await commit(store, logs[i]!);
  }
  expect(a.get('k')).toBe(0); // still readable after b and c reopened the database
  expect(instances(dir)).toEqual([join(dir, TASK_DATABASE_DIR)]);
  for (const store of [a, b, c]) await store.close();

  const [c2, a2, b2] = [kv('c'), kv('a'), kv('b')];
  expect(await c2.open(dir)).toBe(logs[2]!.endOffset);
  expect(await a2.open(dir)).toBe(logs[0]!.endOffset);
  expect(await b2.open(dir)).toBe(logs[1]!.endOffset);
  expect([a2.get('k'), b2.get('k'), c2.get('k')]).toEqual([0, 1, 2]);
  expect(a2.get('only-b')).toBeUndefined();
  expect(b2.all().map((e) => e.key)).toEqual(['k', 'only-b']);
  expect(b2.approximateNumEntries()).toBe(2);
});

test("removing a store's directory discards its state alone (what the restorer does to rebuild one store)", async () => {
  const dir = dirs.make();
  const [a, b] = [kv('a'), kv('b')];
  const logs = [new MemoryChangelog(), new MemoryChangelog()];
  for (const [i, store] of [a, b].entries()) {
    await store.open(dir);
    await store.finishRestore(0);
    store.put('k', i);
    await commit(store, logs[i]!);
  }
  await b.close();
  rmSync(join(dir, 'b'), { recursive: true, force: true });
  const b2 = kv('b');
  expect(await b2.open(dir)).toBeUndefined();
  expect(b2.get('k')).toBeUndefined();
  expect(a.get('k')).toBe(0);
  expect(existsSync(join(dir, 'b'))).toBe(true);
});

test('an old per-store RocksDB directory is removed and the store starts empty (restored from its changelog)', async () => {
  const dir = dirs.make();
  mkdirSync(join(dir, 'legacy'));
  writeFileSync(join(dir, 'legacy', 'CURRENT'), 'MANIFEST-000005\n');
  writeFileSync(join(dir, 'legacy', '000004.log'), Buffer.alloc(70_000));
  writeFileSync(join(dir, 'legacy.positions.json'), '[12]');
  const store = kv('legacy');
  expect(await store.open(dir)).toBeUndefined();
  expect(readdirSync(join(dir, 'legacy'))).toEqual([]);
  expect(existsSync(join(dir, 'legacy.positions.json'))).toBe(false);
});

test('store columns compress their deeper levels without a trained dictionary (dictionary training cost the background threads ~4 µs per event)', async () => {
  const dir = dirs.make();
  const store = kv('seen');
  await store.open(dir);
  const columns = rocksdbColumnOptions(join(dir, TASK_DATABASE_DIR));
  for (const column of ['default', 'seen']) {
    const options = columns.get(column)!;
    expect(options.get('compression_per_level')).toBe('kNoCompression:kNoCompression:kZSTD:kZSTD:kZSTD:kZSTD:kZSTD');
    expect(structField(options.get('compression_opts')!, 'max_dict_bytes')).toBe('0');
    expect(structField(options.get('compression_opts')!, 'zstd_max_train_bytes')).toBe('0');
  }
});

test("a task's expected columns are declared at the database's first open: one open for all its stores, not one per store", async () => {
  const opens = jest.spyOn(TaskDatabase.prototype as unknown as { openWith(columns: Set<string>): Promise<void> }, 'openWith');
  try {
    const unhinted = dirs.make();
    for (const store of [kv('a'), kv('b'), kv('c')]) await store.open(unhinted);
    expect(opens).toHaveBeenCalledTimes(3);
    for (const store of open.splice(0)) await store.close();

    opens.mockClear();
    const hinted = dirs.make();
    TaskDatabase.expectColumns(hinted, ['a', 'b', 'c']);
    const stores = [kv('a'), kv('b'), kv('c')];
    for (const [i, store] of stores.entries()) {
      expect(await store.open(hinted)).toBeUndefined();
      await store.finishRestore(0);
      store.put('k', i);
      await commit(store, new MemoryChangelog());
    }
    expect(opens).toHaveBeenCalledTimes(1);
    expect(stores.map((store) => store.get('k'))).toEqual([0, 1, 2]);
  } finally {
    opens.mockRestore();
  }
});

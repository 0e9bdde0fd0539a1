import { afterEach, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type EmbeddedLog, openEmbeddedLog } from '../../log/embedded/index.js';
import { jsonSerde, stringSerde } from '../../state/Serde.js';
import type { KeyValueStore } from '../../state/StateStore.js';
import { TaskDatabase } from '../../state/TaskDatabase.js';
import { keyValueStoreBuilder } from '../../topology/dsl/MaterializedStores.js';
import { GlobalStateUpdater } from '../../topology/runtime/GlobalStateUpdater.js';

/**
 * A start that fails after a global store was opened (here: its topic does not exist yet) must
 * close that store; otherwise the first attempt's hold on the RocksDB (and its lock) outlives it:
 * with a RocksDB per store a retried start (app/StartSequence.ts retries) hit "lock held"; with
 * one task database per directory the database can no longer close.
 */
describe('GlobalStateUpdater start failure', () => {
  const dirs: string[] = [];
  const logs: EmbeddedLog[] = [];
  afterEach(async () => {
    for (const log of logs.splice(0)) await log.close();
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a failed start closes the store it opened, so a retried start on the same directory succeeds', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'global-retry-'));
    dirs.push(dir);
    const log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
    logs.push(log);
    const stateDir = path.join(dir, 'state');
    const defs = [{ topic: 'courses', store: keyValueStoreBuilder('courses-store', stringSerde, jsonSerde<{ title: string }>()) }];

    const first = new GlobalStateUpdater(log, 'app', stateDir, defs);
    const openBefore = TaskDatabase.openColumns();
    await expect(first.start()).rejects.toThrow(/courses/);
    // Nothing of the failed attempt stays open (the task database's RocksDB lock goes with it).
    expect(TaskDatabase.openColumns()).toBe(openBefore);

    await log.ensureTopic('courses', { partitions: 2 });
    await log.produce([
      { topic: 'courses', partition: 0, key: Buffer.from('c1'), value: Buffer.from(JSON.stringify({ title: 'Algebra' })), timestamp: 1 },
      { topic: 'courses', partition: 1, key: Buffer.from('c2'), value: Buffer.from(JSON.stringify({ title: 'Biology' })), timestamp: 2 },
    ]);
    const retried = new GlobalStateUpdater(log, 'app', stateDir, defs);
    const stores = await retried.start();
    try {
      const store = stores.get('courses-store') as KeyValueStore<string, { title: string }>;
      expect(store.get('c1')).toEqual({ title: 'Algebra' });
      expect(store.get('c2')).toEqual({ title: 'Biology' });
    } finally {
      await retried.close();
    }
    expect(TaskDatabase.openColumns()).toBe(openBefore);
  });
});

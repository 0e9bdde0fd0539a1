import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { jsonSerde, stringSerde } from '../../state/Serde.js';
import { keyValueStore, windowStore } from '../../state/Stores.js';
import { changelogTopicConfig } from '../../state/StoreBuilder.js';
import type { ChangelogBackedStore } from '../../state/ChangelogBackedStore.js';
import { TempDirs } from '../support/temp-dir.js';

/**
 * The store against a real log, driven the way the runtime drives it: drain into a transaction,
 * commit, flush with the end offset the transaction returned; then lose the directory and
 * restore from log.read().
 */
const dirs = new TempDirs();
let log: EmbeddedLog;

beforeEach(async () => {
  log = await openEmbeddedLog({ dir: dirs.make('state-log') });
});

afterEach(async () => {
  await log.close();
  dirs.removeAll();
});

async function commit(store: ChangelogBackedStore, partition: number, sourceOffset: number): Promise<void> {
  const producer = await log.createTransactionalProducer(`test-${store.name}`);
  try {
    const transaction = await producer.begin();
    transaction.produce(store.drainChangelog(partition, String(sourceOffset)));
    const written = await transaction.commit();
    const ends = written.filter((m) => m.topic === store.changelogTopic).map((m) => m.offset + 1);
    await store.flush(ends.length > 0 ? Math.max(...ends) : undefined);
  } finally {
    await producer.close();
  }
}

async function restoreFromLog(store: ChangelogBackedStore, dir: string, partition: number): Promise<number | undefined> {
  const tp = { topic: store.changelogTopic, partition };
  const checkpoint = await store.open(dir);
  const end = await log.endOffset(tp);
  let position = checkpoint ?? (await log.beginningOffset(tp));
  while (position < end) {
    const records = await log.read(tp, position, 100);
    if (records.length === 0) break;
    await store.restore(records);
    position = records[records.length - 1].offset + 1;
  }
  await store.finishRestore(end);
  return checkpoint;
}

test('key-value store: committed changelog restores the same contents into an empty directory', async () => {
  const builder = keyValueStore('profiles', stringSerde, jsonSerde<{ visits: number }>());
  await log.ensureTopic('app-profiles-changelog', changelogTopicConfig(builder, 2));
  const dir = dirs.make();
  const store = builder.build('app');
  await restoreFromLog(store, dir, 1);
  for (let round = 0; round < 4; round++) {
    for (let u = 0; u < 250; u++) {
      if (u % 7 === round) store.delete(`user-${u}`);
      else store.put(`user-${u}`, { visits: round * 1000 + u });
    }
    await commit(store, 1, round);
  }
  const expected = store.all();
  await store.close();

  const changelog = await log.read({ topic: 'app-profiles-changelog', partition: 1 }, 0, 10);
  expect(changelog[0].headers.source_offset).toBe('0');

  rmSync(join(dir, 'profiles'), { recursive: true, force: true });
  const restored = builder.build('app');
  expect(await restoreFromLog(restored, dir, 1)).toBeUndefined();
  expect(restored.all()).toEqual(expected);
  await restored.close();
  // Reopening the restored store needs no further restore: the checkpoint is at the end.
  expect(await restored.open(dir)).toBe(await log.endOffset({ topic: 'app-profiles-changelog', partition: 1 }));
  await restored.close();
});

test('window store: restore from the log keeps live windows only', async () => {
  const builder = windowStore('hits', { windowSizeMs: 1000, retentionMs: 3000 }, stringSerde, jsonSerde<number>());
  await log.ensureTopic('app-hits-changelog', changelogTopicConfig(builder, 1));
  const dir = dirs.make();
  const store = builder.build('app');
  await restoreFromLog(store, dir, 0);
  for (let t = 0; t < 10_000; t += 250) {
    store.advanceStreamTime(t);
    const start = Math.floor(t / 1000) * 1000;
    store.put(`page-${t % 4}`, (store.fetch(`page-${t % 4}`, start) ?? 0) + 1, start);
    if (t % 1000 === 750) await commit(store, 0, t);
  }
  const expected = store.fetchAll(0, Number.MAX_SAFE_INTEGER);
  expect(expected.map((e) => e.key.windowStart)).not.toContain(0);
  await store.close();

  rmSync(join(dir, 'hits'), { recursive: true, force: true });
  const restored = builder.build('app');
  await restoreFromLog(restored, dir, 0);
  expect(restored.fetchAll(0, Number.MAX_SAFE_INTEGER)).toEqual(expected);
  await restored.close();
});

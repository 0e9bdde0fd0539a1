import fs from 'node:fs';
import path from 'node:path';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import { runCrashChild } from '../support/crash-child.js';
import { tempDir } from '../support/temp-dir.js';

const RECORDS = 30_000;
const PARTITIONS = 2;
const CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'unlogged-crash-app.ts');

/**
 * A RocksDB store with logging disabled across a SIGKILL: as Kafka Streams under exactly-once
 * wipes a task's local state after an unclean shutdown, the store starts empty after the crash
 * and counts only what the next run processes, never the writes of a commit that was lost nor
 * without those of one that happened (topology/dsl/LoggingDisabled.ts). The logged count beside
 * it, restored from its changelog, ends with every record.
 */
describe('RocksDB store with logging disabled: SIGKILL mid-stream', () => {
  let dir: string;

  beforeAll(() => {
    dir = tempDir('unlogged-crash');
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('after the crash the unlogged store starts empty and counts exactly the records processed since; the logged one counts all', async () => {
    const log = await openEmbeddedLog({ dir: `${dir}/log` });
    await log.ensureTopic('clicks', { partitions: PARTITIONS });
    await log.ensureTopic('counts', { partitions: PARTITIONS });
    const keys = Array.from({ length: RECORDS }, (_, n) => `user-${(n * 7) % 13}`);
    await log.produce(keys.map((key, n) => ({ topic: 'clicks', key: Buffer.from(key), value: Buffer.from('{}'), timestamp: 1_000 + n })));
    await log.close();

    // Killed after the commit that brings the records written (one count update per input record, plus changelogs)
    // past a fifth of the input: the unlogged store has flushed writes by then.
    expect(await runCrashChild(CHILD, { CRASH_DATA_DIR: dir }, 0, RECORDS / 5)).toBe(false);

    // Where the next run starts: every record at or after the committed offsets is processed by it.
    const afterCrash = await openEmbeddedLog({ dir: `${dir}/log` });
    const partitions = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: 'clicks', partition }));
    const committed = await afterCrash.committedOffsets('unlogged-crash', partitions);
    const expectedUnlogged: Record<string, number> = {};
    const expectedLogged: Record<string, number> = {};
    let resumedFrom = 0;
    for (const tp of partitions) {
      const from = committed.get(`clicks:${tp.partition}`) ?? 0;
      resumedFrom += from;
      for (const record of await afterCrash.read(tp, 0, RECORDS)) {
        const key = record.key!.toString();
        expectedLogged[key] = (expectedLogged[key] ?? 0) + 1;
        if (record.offset >= from) expectedUnlogged[key] = (expectedUnlogged[key] ?? 0) + 1;
      }
    }
    await afterCrash.close();
    expect(resumedFrom).toBeGreaterThan(0);

    expect(await runCrashChild(CHILD, { CRASH_DATA_DIR: dir })).toBe(true);
    const stores = JSON.parse(fs.readFileSync(`${dir}/stores.json`, 'utf8')) as { logged: Record<string, number>; unlogged: Record<string, number> };
    expect(stores.logged).toEqual(expectedLogged);
    expect(stores.unlogged).toEqual(expectedUnlogged);
  });

  test('after a clean shutdown the unlogged store keeps its state and counts on', async () => {
    // The previous test's data dir, now fully committed and closed cleanly: a new record adds one.
    const log = await openEmbeddedLog({ dir: `${dir}/log` });
    const before = JSON.parse(fs.readFileSync(`${dir}/stores.json`, 'utf8')) as { unlogged: Record<string, number> };
    await log.produce([{ topic: 'clicks', key: Buffer.from('user-0'), value: Buffer.from('{}'), timestamp: 100_000 }]);
    await log.close();
    expect(await runCrashChild(CHILD, { CRASH_DATA_DIR: dir })).toBe(true);
    const after = JSON.parse(fs.readFileSync(`${dir}/stores.json`, 'utf8')) as { unlogged: Record<string, number> };
    expect(after.unlogged).toEqual({ ...before.unlogged, 'user-0': before.unlogged['user-0']! + 1 });
  });
});

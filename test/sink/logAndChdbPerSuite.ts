import path from 'node:path';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import type { Log } from '../../log/Log.js';
import { ChdbStore } from '../../sink/ChdbStore.js';
import { migrate } from '../../sink/Migrator.js';
import { removeDir, tempDir } from '../support/temp-dir.js';

/** An embedded log and a real chDB store side by side in one temp dir; set once the suite's beforeAll ran. */
export interface LogAndChdb<L extends Log = EmbeddedLog> {
  readonly dir: string;
  readonly log: L;
  readonly chdb: ChdbStore;
}

/**
 * Registers the enclosing describe block's beforeAll/afterAll: opens an embedded log (or the log
 * `openLog` opens, e.g. a Kafka one) and a chDB store in a fresh temp dir (the schema migrated,
 * unless a suite builds an older one itself), and closes both and removes the dir after the last
 * test. Read `log` and `chdb` inside tests and hooks only: they are opened when the suite starts.
 */
export function logAndChdbPerSuite(prefix: string, options?: { migrated?: boolean }): LogAndChdb;
export function logAndChdbPerSuite<L extends Log>(prefix: string, options: { migrated?: boolean; openLog: () => Promise<L> }): LogAndChdb<L>;
export function logAndChdbPerSuite(prefix: string, options: { migrated?: boolean; openLog?: () => Promise<Log> } = {}): LogAndChdb<Log> {
  const opened = { dir: tempDir(prefix) } as { dir: string; log: Log; chdb: ChdbStore };
  beforeAll(async () => {
    opened.log = options.openLog ? await options.openLog() : await openEmbeddedLog({ dir: path.join(opened.dir, 'log') });
    opened.chdb = await ChdbStore.open({ path: path.join(opened.dir, 'chdb') });
    if (options.migrated ?? true) await migrate(opened.chdb, { eventsTtlDays: 0 });
  });
  afterAll(async () => {
    await opened.log?.close();
    await opened.chdb?.close();
    removeDir(opened.dir);
  });
  return opened;
}

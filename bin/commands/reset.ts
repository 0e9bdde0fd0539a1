import fs from 'node:fs';
import path from 'node:path';
import { TASK_DATABASE_DIR } from '../../state/TaskDatabase.js';
import { CliError, type Command, confirm, openCliLog, parseCommand } from './cli-support.js';

const USAGE = 'streamline reset [--yes] [--data-dir <dir>]';

function directorySize(dir: string): { bytes: number; stores: number } {
  let bytes = 0;
  let stores = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    if (entry.isFile()) bytes += fs.statSync(full).size;
    // A task's stores share one RocksDB (<task>/@rocksdb); each store has a marker dir beside it.
    if (entry.isDirectory() && entry.name === TASK_DATABASE_DIR) stores += storeMarkers(entry.parentPath);
  }
  return { bytes, stores };
}

function storeMarkers(taskDir: string): number {
  return fs.readdirSync(taskDir, { withFileTypes: true }).filter((entry) => entry.isDirectory() && entry.name !== TASK_DATABASE_DIR).length;
}

/**
 * streamline reset: drops the application's local state (its RocksDB stores and checkpoints
 * under DATA_DIR/state/<APPLICATION_ID>). The next start restores every store from its changelog
 * topic, as Kafka Streams does after a lost disk. Topics and committed offsets are left alone.
 */
export const resetCommand: Command = async (args, context) => {
  const { values, env } = parseCommand(args, { yes: { type: 'boolean', short: 'y' } }, context, USAGE);
  // Opening the log proves no service is running on this data dir (embedded mode holds its lock).
  const { log, config } = await openCliLog(env, { mustExist: false });
  await log.close();
  const stateDir = path.join(config.dataDir, 'state', config.applicationId);
  if (!fs.existsSync(stateDir)) {
    context.out(`nothing to reset: no local state at ${stateDir}`);
    return;
  }
  const { bytes, stores } = directorySize(stateDir);
  const what = `${stores} stores, ${(bytes / 1048576).toFixed(1)} MiB under ${stateDir}`;
  if (!values.yes) {
    if (!context.interactive) throw new CliError(`reset would delete ${what}; confirm with --yes (no terminal to ask on)`);
    if (!(await confirm(context, `Delete the local state of "${config.applicationId}": ${what}?`))) throw new CliError('reset cancelled; nothing was deleted');
  }
  fs.rmSync(stateDir, { recursive: true, force: true });
  context.out(`deleted ${what}; the next start restores the stores from their changelog topics`);
};

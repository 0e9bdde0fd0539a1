import fs from 'node:fs/promises';
import path from 'node:path';
import type { Log } from '../../log/Log.js';
import type { RuntimeStore } from '../../state/StoreBuilder.js';

export interface RestoreResult {
  store: string;
  fromOffset: number;
  toOffset: number;
  records: number;
  durationMs: number;
}

const RESTORE_BATCH = 10_000;

/**
 * Brings one task store up to its changelog's end before the task processes anything
 * (Kafka Streams' "restore before processing"). The local checkpoint says where to start; no
 * checkpoint (a new or deleted directory) means from the beginning. A checkpoint beyond the
 * changelog's end means the local state is from a changelog that no longer exists: wipe and rebuild.
 */
/** dir is the task directory; the store opens its own sub-directory in it. */
export async function restoreStore(log: Log, store: RuntimeStore, dir: string, partition: number): Promise<RestoreResult> {
  const started = Date.now();
  if ((store as { loggingEnabled?: boolean }).loggingEnabled === false) {
    // No changelog (withLoggingDisabled): nothing to restore from, the store starts as it opens
    // (empty for an in-memory store), as in Kafka Streams after losing local state.
    await store.open(dir);
    await store.finishRestore(0);
    return { store: store.name, fromOffset: 0, toOffset: 0, records: 0, durationMs: Date.now() - started };
  }
  const tp = { topic: store.changelogTopic, partition };
  let checkpoint = await store.open(dir);
  const end = await log.endOffset(tp);
  if (checkpoint !== undefined && checkpoint > end) {
    // <task dir>/<store name> is the store's marker: without it the next open starts the store empty
    // (its column in the task's RocksDB is dropped, state/TaskDatabase.ts).
    await store.close();
    await fs.rm(path.join(dir, store.name), { recursive: true, force: true });
    checkpoint = await store.open(dir);
  }
  const from = checkpoint ?? (await log.beginningOffset(tp));
  let position = from;
  let records = 0;
  while (position < end) {
    const batch = await log.read(tp, position, RESTORE_BATCH);
    if (batch.length === 0) break;
    const inRange = batch[batch.length - 1]!.offset < end ? batch : batch.filter((record) => record.offset < end);
    if (inRange.length > 0) await store.restore(inRange);
    records += inRange.length;
    position = batch[batch.length - 1]!.offset + 1;
  }
  await store.finishRestore(end);
  return { store: store.name, fromOffset: from, toOffset: end, records, durationMs: Date.now() - started };
}

import path from 'node:path';
import type { RuntimeStore } from '../../state/StoreBuilder.js';
import { TaskDatabase } from '../../state/TaskDatabase.js';
import type { Subtopology } from '../Subtopologies.js';
import { restoreStore } from './StateRestorer.js';
import type { StreamThreadContext } from './StreamThreadContext.js';
import { StreamTask } from './StreamTask.js';
import { needsPersistedStreamTime, taskStreamTimeStore } from './TaskStreamTime.js';

/**
 * How many tasks an assignment sets up at once. Setting one up is mostly waiting: RocksDB opens
 * in libuv's pool, changelog reads from the log. One after another, the default pipeline's 20
 * tasks took ~2 s on a fresh state dir; the pool has 4 threads.
 */
export const TASK_SETUP_CONCURRENCY = 4;

/** A task's id: its sub-topology and partition (Kafka Streams' TaskId, `<sub>_<partition>`), also its state directory's name. */
export function taskIdOf(sub: Subtopology, partition: number): string {
  return `${sub.id}_${partition}`;
}

/** Which stores of which task are being restored right now (tasks are set up side by side). */
export class RestoringStores {
  private readonly entries = new Map<string, string>();

  add(taskId: string, store: string): void {
    this.entries.set(`${taskId}\u0000${store}`, store);
  }

  delete(taskId: string, store: string): void {
    this.entries.delete(`${taskId}\u0000${store}`);
  }

  /** Store names, each once. */
  names(): string[] {
    return [...new Set(this.entries.values())];
  }
}

/**
 * Builds a task with its stores open and restored up to their changelogs' ends, before it
 * processes anything (Kafka Streams' restore before processing). On failure the stores it opened
 * are closed again, releasing their RocksDB locks so that a retry can open the same directories.
 */
export async function setUpTask(
  context: StreamThreadContext,
  sub: Subtopology,
  partition: number,
  progress: { restoring: RestoringStores; onRestoring(event: { task: string; store: string }): void },
): Promise<StreamTask> {
  const { topology, log, config, metrics, logger } = context;
  const taskId = taskIdOf(sub, partition);
  const dir = path.join(config.stateDir, config.applicationId, taskId);
  const builders = sub.stores.map((storeName) => topology.storeBuilder(storeName));
  const streamTimeBuilder = needsPersistedStreamTime(sub) ? taskStreamTimeStore(sub) : undefined;
  if (streamTimeBuilder) builders.push(streamTimeBuilder);
  const built = builders.map((builder) => builder.build(config.applicationId));
  // Every column the task's RocksDB will hold, declared before its first open: otherwise a fresh
  // task reopens its database once per store (state/TaskDatabase.ts).
  TaskDatabase.expectColumns(dir, built.flatMap((store) => (store.taskDatabaseColumn === undefined ? [] : [store.taskDatabaseColumn])));
  const stores = new Map<string, RuntimeStore>();
  for (const [i, store] of built.entries()) {
    const name = builders[i]!.name;
    progress.restoring.add(taskId, name);
    progress.onRestoring({ task: taskId, store: name });
    try {
      const result = await restoreStore(log, store, dir, partition);
      metrics.restoredRecords.inc({ store: name }, result.records);
      metrics.restoreSeconds.observe({ store: name }, result.durationMs / 1000);
      if (result.records > 0) logger?.info({ task: taskId, ...result }, 'store restored from changelog');
    } catch (error) {
      for (const opened of [store, ...stores.values()]) await opened.close().catch(() => undefined);
      throw error;
    } finally {
      progress.restoring.delete(taskId, name);
    }
    stores.set(name, store);
  }
  return new StreamTask({
    streamTimeStore: streamTimeBuilder?.name,
    applicationId: config.applicationId,
    subtopology: sub,
    partition,
    topology,
    stores,
    globalStores: context.globalStores,
    dlqTopic: config.dlqTopic,
    observer: metrics,
  });
}

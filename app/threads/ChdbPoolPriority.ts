import fs from 'node:fs';
import { lowerThreadPriority } from './ThreadPriority.js';

/**
 * chDB's own thread pools, by the names ClickHouse gives their threads (15 characters at most):
 * merges, the global pool, the background schedulers. The HTTP thread creates some of them when it
 * loads the addon, so they do not inherit a stream thread's nice value. Left out: `MemoryWorker`
 * (it sets its own, -20 where allowed) and libuv's pool (chDB's inserts run there, and so does the
 * HTTP and log threads' file work).
 */
export const CHDB_POOL_THREAD_NAMES: ReadonlySet<string> = new Set([
  'MergeMutate',
  'ThreadPool',
  'BgSchPool',
  'BgStrmSchPool',
  'PoolDelayExec',
  'Common',
  'Fetch',
  'Move',
]);

/** How often the pools are looked at again: they start threads on demand and end idle ones. */
export const CHDB_POOL_RENICE_INTERVAL_MS = 2_000;

/** The thread name in a /proc/<pid>/task/<tid>/comm text. */
const threadName = (comm: string) => comm.trimEnd();

/**
 * Gives `nice` to this process's threads whose name is in `names` and whose nice value is lower.
 * Never raises a priority (lowerThreadPriority). Returns how many it changed; 0 where /proc is not there.
 */
export function reniceThreadsNamed(names: ReadonlySet<string>, nice: number): number {
  let tids: string[];
  try {
    tids = fs.readdirSync('/proc/self/task');
  } catch {
    return 0;
  }
  let changed = 0;
  for (const entry of tids) {
    try {
      if (!names.has(threadName(fs.readFileSync(`/proc/self/task/${entry}/comm`, 'latin1')))) continue;
      if (lowerThreadPriority(Number(entry), nice)) changed += 1;
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return changed;
}

/**
 * Keeps chDB's pools at `nice` (PIPELINE_THREAD_NICE) from now on, so the merges and background
 * work of the sink wait, with the topology, behind the HTTP and log threads: reniced now and every
 * CHDB_POOL_RENICE_INTERVAL_MS. Returns the stop function. Does nothing at 0.
 */
export function keepChdbPoolsReniced(nice: number, onChanged: (threads: number) => void = () => {}): () => void {
  if (nice === 0) return () => {};
  const renice = () => {
    const changed = reniceThreadsNamed(CHDB_POOL_THREAD_NAMES, nice);
    if (changed > 0) onChanged(changed);
  };
  renice();
  const timer = setInterval(renice, CHDB_POOL_RENICE_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}

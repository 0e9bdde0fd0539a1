import fs from 'node:fs';
import os from 'node:os';

/** The calling thread's kernel id: Linux's /proc/thread-self links to `<pid>/task/<tid>`. Undefined elsewhere. */
export function currentThreadId(): number | undefined {
  try {
    const link = fs.readlinkSync('/proc/thread-self');
    const tid = Number(link.slice(link.lastIndexOf('/') + 1));
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Gives the calling thread the nice value `nice` (PIPELINE_THREAD_NICE). On Linux a thread has a
 * nice value of its own (os.setPriority with its id); the threads it starts later inherit it, so a
 * stream thread reniced before its sink starts takes the chDB threads the sink starts with it (the
 * pools the HTTP thread created with the addon follow through ChdbPoolPriority.ts). Under CPU contention
 * the HTTP and log threads, which a client's answer waits for, then come first; the topology uses
 * what they leave and catches up after a spike (its backlog is bounded by MAX_TOPOLOGY_LAG).
 * Returns whether it applied (not on other systems, nor when the thread's nice value is that high already).
 */
export function niceThisThread(nice: number): boolean {
  if (nice === 0) return false;
  const tid = currentThreadId();
  return tid !== undefined && lowerThreadPriority(tid, nice);
}

/**
 * Gives thread tid the nice value `nice` if its own is lower; returns whether it did. Never
 * raises a priority: a process started under `nice` keeps at least its own value (lowering a nice
 * value needs privilege).
 */
export function lowerThreadPriority(tid: number, nice: number): boolean {
  if (os.getPriority(tid) >= nice) return false;
  os.setPriority(tid, nice);
  return true;
}

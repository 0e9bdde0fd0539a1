/**
 * The whole service's CPU split by thread, for the CPU-split benches (issue 13): the JavaScript
 * threads by name from the service's own streamline_thread_cpu_seconds_total{thread}, and the
 * helper threads from /proc/<pid>/task/<tid>/stat: RocksDB's (by their names), chDB's (named after
 * their ClickHouse pools), and Node's unnamed ones, which gdb (when installed) tells apart by their
 * start routine: V8's platform workers (concurrent GC, compilation), libuv's thread pool (RocksDB's
 * async reads and writes, fs), Node's own; without gdb they are one row.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

export interface ThreadTicks {
  comm: string;
  ticks: number;
}

/** user + system clock ticks (1/100 s) of every thread of `pid`, by tid. */
export function threadTicks(pid: number): Map<number, ThreadTicks> {
  const threads = new Map<number, ThreadTicks>();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      threads.set(Number(tid), { comm, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return threads;
}

/** What a split needs of one moment: the process's CPU, each OS thread's, each JavaScript thread's. */
export interface ThreadSnapshot {
  processSeconds: number;
  threads: Map<number, ThreadTicks>;
  /** streamline_thread_cpu_seconds_total by thread label. */
  jsThreads: Map<string, number>;
}

const V8_PLATFORM = 'V8 platform workers (concurrent GC, compiling)';
const LIBUV_POOL = 'libuv pool (RocksDB async reads/writes, fs)';
const NODE_OWN = 'Node: task scheduler, inspector io';

/** Node 24 names its threads (Node 20 leaves them all "node"): the helpers' names, by row. */
const NAMED_NODE_HELPERS: Record<string, string> = { V8Worker: V8_PLATFORM, 'libuv-worker': LIBUV_POOL, DelayedTaskSche: NODE_OWN, SignalInspector: NODE_OWN };

/** A JavaScript thread's OS name: "node" on Node 20; MainThread, WorkerThread or the worker's name on Node 24. */
function isJavaScriptThread(comm: string, jsThreads: Map<string, number>): boolean {
  return comm === 'node' || comm === 'MainThread' || comm === 'WorkerThread' || jsThreads.has(comm);
}

/** What gdb says each unnamed ("node") thread runs: tid -> role. Empty when gdb is missing or fails. */
export function classifyNodeThreads(pid: number): Map<number, string> {
  const roles = new Map<number, string>();
  const result = spawnSync('nice', ['-n', '19', 'gdb', '-p', String(pid), '-batch', '-ex', 'thread apply all bt'], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  if (result.status !== 0 && !result.stdout) return roles;
  let tid: number | undefined;
  for (const line of result.stdout.split('\n')) {
    const header = /^Thread \d+ \(Thread 0x[0-9a-f]+ \(LWP (\d+)\)/.exec(line);
    if (header) {
      tid = Number(header[1]);
      continue;
    }
    if (tid === undefined || roles.has(tid)) continue;
    if (line.includes('PlatformWorkerThread')) roles.set(tid, V8_PLATFORM);
    else if (line.includes('threadpool.c')) roles.set(tid, LIBUV_POOL);
    else if (line.includes('DelayedTaskScheduler') || line.includes('StartIoThreadMain')) roles.set(tid, NODE_OWN);
  }
  return roles;
}

export const CHDB_POOLS = /^(MemoryWorker|PoolDelayExec|BgSchPool|BgStrmSchPool|BgMBSchPool|BgDistSchPool|MergeMutate|Move|Fetch|Common|ThreadPool|QueryPipelineEx|AsyncLoader|SystemLogFlush|TraceCollector|.*Pool.*|Chdb.*|ClickHouse.*)$/;

export function splitThreadCpu(before: ThreadSnapshot, after: ThreadSnapshot, roles: Map<number, string>): Record<string, number> {
  const seconds: Record<string, number> = {};
  const add = (row: string, value: number) => (seconds[row] = (seconds[row] ?? 0) + value);
  for (const [name, value] of after.jsThreads) add(`${name === 'main' ? 'main (HTTP, ingress)' : name} [JS]`, value - (before.jsThreads.get(name) ?? 0));
  const jsTotal = Object.values(seconds).reduce((a, b) => a + b, 0);
  let unnamed = 0;
  for (const [tid, { comm, ticks }] of after.threads) {
    const delta = (ticks - (before.threads.get(tid)?.ticks ?? 0)) / 100;
    if (comm.startsWith('rocksdb')) add('RocksDB background (flush, compaction)', delta);
    else if (NAMED_NODE_HELPERS[comm]) add(NAMED_NODE_HELPERS[comm], delta);
    else if (isJavaScriptThread(comm, after.jsThreads)) {
      const role = roles.get(tid);
      if (role) add(role, delta);
      else unnamed += delta;
    } else if (CHDB_POOLS.test(comm)) add('chDB pools', delta);
    else add(`other: ${comm}`, delta);
  }
  // The JavaScript threads are unnamed ("node") too: what is left of the unnamed threads' time
  // once the JS threads' own figures are taken out is Node's helpers that gdb did not classify.
  add(roles.size > 0 ? 'unclassified node threads' : 'Node helpers (V8 platform, libuv pool)', unnamed - jsTotal);
  const attributed = Object.values(seconds).reduce((a, b) => a + b, 0);
  add('ended threads, rounding', after.processSeconds - before.processSeconds - attributed);
  seconds.total = after.processSeconds - before.processSeconds;
  return seconds;
}

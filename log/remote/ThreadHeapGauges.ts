import fs from 'node:fs';
import v8 from 'node:v8';
import { Counter, Gauge, type Registry } from 'prom-client';

/** Clock ticks per second of /proc's utime and stime (USER_HZ: 100 on every Linux Node runs on). */
const TICKS_PER_SECOND = 100;

/**
 * This thread's own CPU time in seconds (user + system), or undefined where /proc/thread-self is
 * missing (not Linux). Read from the calling thread: a worker reads its own, not the process's
 * (process.cpuUsage() is the whole process's, and Node 20 has no per-thread figure).
 */
export function threadCpuSeconds(): number | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync('/proc/thread-self/stat', 'latin1');
  } catch {
    return undefined;
  }
  // Fields after the command name, which is in parentheses and may itself hold spaces or ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/**
 * This thread's V8 heap and CPU time (here in log/ because the log thread registers them too and
 * log/ may not import app/): streamline_thread_heap_used_bytes{thread} (and _total_bytes) and
 * streamline_thread_cpu_seconds_total{thread}. Each worker has its own heap, invisible to the
 * main thread's nodejs_heap_* metrics, so a growing stream thread or log thread shows only as RSS
 * without these; and process_cpu_seconds_total adds up every thread, so which thread (HTTP, log,
 * a stream thread, the sink) spends the service's CPU shows only here. The thread label keeps
 * each thread's series apart when app/threads/WorkerMetrics.ts's includeWorkerMetrics adds
 * same-labelled series up.
 */
export function registerThreadHeapGauges(registry: Registry, thread: string): void {
  new Gauge({
    name: 'streamline_thread_heap_used_bytes',
    help: "V8 heap in use by one thread (the main thread's and each worker's own heap)",
    labelNames: ['thread'],
    registers: [registry],
    collect() {
      this.set({ thread }, v8.getHeapStatistics().used_heap_size);
    },
  });
  new Gauge({
    name: 'streamline_thread_heap_total_bytes',
    help: 'V8 heap reserved by one thread (used, free and fragmented pages)',
    labelNames: ['thread'],
    registers: [registry],
    collect() {
      this.set({ thread }, v8.getHeapStatistics().total_heap_size);
    },
  });
  if (threadCpuSeconds() === undefined) return;
  new Counter({
    name: 'streamline_thread_cpu_seconds_total',
    help: "CPU time (user + system) of one JavaScript thread: the HTTP thread, the log thread, each stream thread, the sink (not RocksDB's, chDB's, libuv's or V8's helper threads); Linux only, 10 ms resolution",
    labelNames: ['thread'],
    registers: [registry],
    collect() {
      const seconds = threadCpuSeconds();
      if (seconds === undefined) return;
      this.reset();
      this.inc({ thread }, seconds);
    },
  });
}

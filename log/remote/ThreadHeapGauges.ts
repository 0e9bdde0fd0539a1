import v8 from 'node:v8';
import { Gauge, type Registry } from 'prom-client';

/**
 * This thread's V8 heap (here in log/ because the log thread registers it too and log/ may not
 * import app/) as streamline_thread_heap_used_bytes{thread} (and _total_bytes): each
 * worker has its own heap, invisible to the main thread's nodejs_heap_* metrics, so a growing
 * stream thread or log thread shows only as RSS without these. The thread label keeps each
 * thread's series apart when app/threads/WorkerMetrics.ts's includeWorkerMetrics adds same-labelled series up.
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
}

/**
 * Experiment for bench/stream-heap.ts (BENCH_HEAP_RELEASE_CONSUMED=true), loaded into the stream
 * workers before their entry module: a StreamTask drops its reference to each record it has
 * processed. Without it an input queue keeps consumed records in records[0..head) until head
 * passes 1024 (topology/runtime/StreamTask.ts processOne), and each record is a view into the
 * ArrayBuffer its whole fetch was packed in (log/remote/RecordPacking.ts), which stays resident.
 */
import { StreamTask } from '../../topology/runtime/StreamTask.js';

interface QueueView {
  records: unknown[];
  head: number;
}

const processOne = StreamTask.prototype.processOne;
StreamTask.prototype.processOne = function (this: StreamTask): boolean {
  const processed = processOne.call(this);
  if (processed) {
    for (const queue of (this as unknown as { queues: Map<string, QueueView> }).queues.values()) {
      if (queue.head > 0) queue.records[queue.head - 1] = undefined;
    }
  }
  return processed;
};

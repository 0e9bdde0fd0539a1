import { partitionKey, type Log, type LogConsumer } from '../log/Log.js';
import type { PartitionBatcher } from './PartitionBatcher.js';
import type { SinkMetrics } from './SinkMetrics.js';

/** Lag is read at most this often per partition (one ListOffsets per leader for the partitions due). */
const LAG_CHECK_INTERVAL_MS = 1_000;

/**
 * Sets the sink's lag gauge per partition: records in the log past what the sink committed. The
 * end offsets of the partitions due are read in one call (one message to the log thread). Best
 * effort: when they cannot be read the partitions keep their last values (the log's own health
 * is reported elsewhere).
 */
export async function reportSinkLag(log: Log, consumer: LogConsumer | null, partitions: Iterable<PartitionBatcher>, metrics: SinkMetrics): Promise<void> {
  const now = Date.now();
  const due: PartitionBatcher[] = [];
  for (const work of partitions) {
    if (now - work.lagCheckedAt < LAG_CHECK_INTERVAL_MS) continue;
    work.lagCheckedAt = now;
    due.push(work);
  }
  if (due.length === 0) return;
  let ends: Map<string, number>;
  try {
    ends = await log.endOffsets(due.map((work) => work.tp));
  } catch {
    return; // lag is best effort; the log's own health is reported elsewhere
  }
  for (const work of due) {
    const end = ends.get(partitionKey(work.tp));
    if (end === undefined) continue;
    // With nothing held, whatever lies between the committed offset and the consumer's
    // position is transaction markers (Kafka), not records: not lag. The commits themselves
    // stay at last record + 1, where the recorded batch cuts start.
    const idle = work.buffer.length === 0 && work.pending === null && work.written === null;
    const position = idle ? consumer?.position(work.tp) : undefined;
    const lag = Math.max(0, end - Math.max(work.committed ?? 0, position ?? 0));
    metrics.lag.set({ sink: metrics.sink, topic: work.tp.topic, partition: String(work.tp.partition) }, lag);
  }
}

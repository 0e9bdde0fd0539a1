import { DLQ_REASON, DLQ_TIMESTAMP, ORIGINAL_OFFSET, ORIGINAL_PARTITION, ORIGINAL_TOPIC, deadLetterHeaders } from '../topology/index.js';
import type { Log, LogRecord, ProducerRecord, TopicPartition } from '../log/Log.js';
import type { ProcessorContext, StreamRecord } from '../topology/index.js';

/** Failed and refused events go to DLQ_TOPIC: seed 001's default events-dlq (seed 003 called it dlq.events). */
export const DEFAULT_DLQ_TOPIC = 'events-dlq';

/**
 * A dead letter made inside a processor (an event refused by policy, e.g. a block rule), with
 * the headers the runtime puts on poison records: dlq_reason, dlq_timestamp, original_topic,
 * original_partition, original_offset. dlq_timestamp is the record's time, not Date.now(), so a
 * replay after a crash writes the same record.
 */
export function deadLetterRecord<K, V>(context: ProcessorContext<unknown, unknown>, record: StreamRecord<K, V>, reason: string): StreamRecord<K, V> {
  return {
    key: record.key,
    value: record.value,
    timestamp: record.timestamp,
    headers: deadLetterHeaders(record.headers, context.recordMetadata(), reason, record.timestamp),
  };
}

const DLQ_HEADERS = new Set([DLQ_REASON, DLQ_TIMESTAMP, ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET, 'retry_count']);

export interface ReplayOptions {
  dlqTopic?: string;
  /** Replays only records whose reason matches. */
  reasonMatches?: RegExp;
  /** DLQ offsets to start from per partition (default: the beginning). */
  fromOffsets?: Map<number, number>;
  /** Stop after this many replayed records. */
  limit?: number;
}

/**
 * Re-produces dead letters to their original topic, without the DLQ headers and with
 * retry_count incremented, so they go through the pipeline again after a fix (a new rule file, a
 * repaired producer). Returns how many were replayed and the next DLQ offset per partition, for
 * resuming. Records whose original topic is unknown are skipped.
 *
 * @example
 *   const { replayed } = await replayDeadLetters(log, { reasonMatches: /blocked by filter rule bot/ });
 */
export async function replayDeadLetters(log: Log, options: ReplayOptions = {}): Promise<{ replayed: number; skipped: number; nextOffsets: Map<number, number> }> {
  const topic = options.dlqTopic ?? DEFAULT_DLQ_TOPIC;
  const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
  const nextOffsets = new Map<number, number>();
  let replayed = 0;
  let skipped = 0;
  for (const tp of await partitionsOf(log, topic)) {
    const end = await log.endOffset(tp);
    let position = options.fromOffsets?.get(tp.partition) ?? (await log.beginningOffset(tp));
    while (position < end && replayed < limit) {
      const batch: LogRecord[] = (await log.read(tp, position, Math.min(1000, limit - replayed))).filter((r) => r.offset < end);
      if (batch.length === 0) break;
      const out: ProducerRecord[] = [];
      for (const record of batch) {
        position = record.offset + 1;
        const original = record.headers[ORIGINAL_TOPIC];
        if (!original || (options.reasonMatches && !options.reasonMatches.test(record.headers[DLQ_REASON] ?? ''))) {
          skipped++;
          continue;
        }
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(record.headers)) if (!DLQ_HEADERS.has(name)) headers[name] = value;
        headers.retry_count = String(Number(record.headers.retry_count ?? '0') + 1);
        out.push({ topic: original, key: record.key, value: record.value, headers, timestamp: record.timestamp });
        if (++replayed >= limit) break;
      }
      if (out.length > 0) await log.produce(out);
    }
    nextOffsets.set(tp.partition, position);
  }
  return { replayed, skipped, nextOffsets };
}

async function partitionsOf(log: Log, topic: string): Promise<TopicPartition[]> {
  const count = await log.partitionCount(topic);
  return Array.from({ length: count }, (_, partition) => ({ topic, partition }));
}

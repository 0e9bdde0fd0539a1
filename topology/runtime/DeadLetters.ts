import type { LogRecord, ProducerRecord } from '../../log/Log.js';

/** Headers every dead letter carries (DESIGN.md "Guarantees"; seed 003's DLQ headers). */
export const DLQ_REASON = 'dlq_reason';
export const DLQ_TIMESTAMP = 'dlq_timestamp';
export const ORIGINAL_TOPIC = 'original_topic';
export const ORIGINAL_PARTITION = 'original_partition';
export const ORIGINAL_OFFSET = 'original_offset';

/** The original bytes, untouched, so a replay after a fix sees exactly what was refused. */
export function deadLetterFor(record: LogRecord, dlqTopic: string, reason: string, now = Date.now()): ProducerRecord {
  return {
    topic: dlqTopic,
    key: record.key,
    value: record.value,
    timestamp: record.timestamp,
    headers: {
      ...record.headers,
      [DLQ_REASON]: reason.slice(0, 1000),
      [DLQ_TIMESTAMP]: new Date(now).toISOString(),
      [ORIGINAL_TOPIC]: record.topic,
      [ORIGINAL_PARTITION]: String(record.partition),
      [ORIGINAL_OFFSET]: String(record.offset),
    },
  };
}

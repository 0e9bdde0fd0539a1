import type { LogRecord, ProducerRecord, RecordHeaders } from '../../log/Log.js';
import type { ProcessorContext } from '../processor/Processor.js';
import type { StreamRecord } from '../processor/Record.js';

/** Headers every dead letter carries (README.md "Guarantees"; seed 003's DLQ headers). */
export const DLQ_REASON = 'dlq_reason';
export const DLQ_TIMESTAMP = 'dlq_timestamp';
export const ORIGINAL_TOPIC = 'original_topic';
export const ORIGINAL_PARTITION = 'original_partition';
export const ORIGINAL_OFFSET = 'original_offset';

/**
 * The headers of a dead letter: the record's own, plus why, when and where from. Shared by the
 * runtime (poison records) and processors that refuse a record by policy.
 */
export function deadLetterHeaders(
  headers: RecordHeaders,
  origin: { topic: string; partition: number; offset: number } | undefined,
  reason: string,
  timeMs: number,
): RecordHeaders {
  return {
    ...headers,
    [DLQ_REASON]: reason.slice(0, 1000),
    [DLQ_TIMESTAMP]: new Date(timeMs).toISOString(),
    [ORIGINAL_TOPIC]: origin?.topic ?? '',
    [ORIGINAL_PARTITION]: origin ? String(origin.partition) : '',
    [ORIGINAL_OFFSET]: origin ? String(origin.offset) : '',
  };
}

/** The original bytes, untouched, so a replay after a fix sees exactly what was refused. */
export function deadLetterFor(record: LogRecord, dlqTopic: string, reason: string, now = Date.now()): ProducerRecord {
  return {
    topic: dlqTopic,
    key: record.key,
    value: record.value,
    timestamp: record.timestamp,
    headers: deadLetterHeaders(record.headers, record, reason, now),
  };
}

/**
 * A dead letter made inside a processor (an event refused by policy, e.g. a block rule), with
 * the headers the runtime puts on poison records. dlq_timestamp is the record's time, not
 * Date.now(), so a replay after a crash writes the same record.
 */
export function deadLetterRecord<K, V>(context: ProcessorContext<unknown, unknown>, record: StreamRecord<K, V>, reason: string): StreamRecord<K, V> {
  return {
    key: record.key,
    value: record.value,
    timestamp: record.timestamp,
    headers: deadLetterHeaders(record.headers, context.recordMetadata(), reason, record.timestamp),
  };
}

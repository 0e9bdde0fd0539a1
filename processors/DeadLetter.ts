import { deadLetterHeaders } from '../topology/index.js';
import type { ProcessorContext, StreamRecord } from '../topology/index.js';

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

// Replay lives in DeadLetterReplay.ts; re-exported here, where callers looked for it first.
export { replayDeadLetters, quarantineTopic, DEFAULT_MAX_REPLAYS, type ReplayOptions, type ReplayResult } from './DeadLetterReplay.js';

import type { RecordHeaders } from '../../log/Log.js';

/** A record as processors see it: typed key and value, event time, headers. */
export interface StreamRecord<K, V> {
  key: K;
  value: V;
  /** Event time in epoch milliseconds; drives windows and stream-time punctuation. */
  timestamp: number;
  headers: RecordHeaders;
}

/** Where the record being processed came from (Kafka Streams' RecordMetadata). */
export interface RecordMetadata {
  topic: string;
  partition: number;
  offset: number;
}

export function withValue<K, V, V2>(record: StreamRecord<K, V>, value: V2): StreamRecord<K, V2> {
  return { key: record.key, value, timestamp: record.timestamp, headers: record.headers };
}

export function withKeyValue<K, V, K2, V2>(record: StreamRecord<K, V>, key: K2, value: V2): StreamRecord<K2, V2> {
  return { key, value, timestamp: record.timestamp, headers: record.headers };
}

import type { ProducerRecord } from '../Log.js';
import { partitionForKey } from '../Murmur2.js';
import type { PendingRecord } from './GroupCommitWriter.js';
import type { PartitionState, TopicState } from './TopicCatalog.js';

/**
 * Validates records and places each on its partition, as Kafka's producer does before a send: the
 * partition given, else murmur2 of the key (the same partition number as in Kafka mode), else
 * round-robin over the topic. A record that cannot be placed throws, so the whole call fails.
 * topicFor finds the record's topic (or creates it, when the log auto-creates topics).
 */
export function placeRecords(records: ProducerRecord[], topicFor: (name: string) => TopicState): PendingRecord[] {
  const now = Date.now();
  const out: PendingRecord[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const topic = topicFor(r.topic);
    // undefined is taken as null: plain-JS callers often leave the key out.
    const key = r.key ?? null;
    const value = r.value ?? null;
    if (key !== null && !(key instanceof Uint8Array)) throw new TypeError(`record ${i}: key must be a Buffer or null`);
    if (value !== null && !(value instanceof Uint8Array)) throw new TypeError(`record ${i}: value must be a Buffer or null`);
    const partition = choosePartition(topic, r.partition, key);
    out[i] = {
      partition,
      key: asBuffer(key),
      value: asBuffer(value),
      headers: r.headers,
      timestamp: r.timestamp ?? now,
    };
  }
  return out;
}

function choosePartition(topic: TopicState, explicit: number | undefined, key: Uint8Array | null): PartitionState {
  const count = topic.partitions.length;
  let p: number;
  if (explicit !== undefined) {
    p = explicit;
    if (!Number.isInteger(p) || p < 0 || p >= count) {
      throw new RangeError(`topic "${topic.name}" has ${count} partitions, no partition ${p}`);
    }
  } else if (key !== null) {
    p = partitionForKey(key, count);
  } else {
    p = topic.nextRoundRobin++ % count;
  }
  return topic.partitions[p];
}

/** A Buffer view of the bytes, without copying (the copy is made at the write). */
function asBuffer(bytes: Uint8Array | null): Buffer | null {
  if (bytes === null || Buffer.isBuffer(bytes)) return bytes;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

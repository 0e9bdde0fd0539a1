import type { ProducerRecord } from '../../log/Log.js';
import { deadLetterHeaders } from './DeadLetters.js';

/**
 * A StreamPartitioner behind a TopicNameExtractor (Kafka Streams: `to(extractor,
 * Produced.streamPartitioner(p))`) needs the partition count of a topic known only per record,
 * while a sink runs synchronously. Kafka Streams asks the producer's metadata when it sends; here
 * the sink marks the record with the partitioner's choice as a function of the count, and the
 * commit (TaskCommitter, which already creates topics routed to at run time) looks the count up
 * and places the record before producing it.
 */
export type PartitionChoice = (numPartitions: number) => number[] | undefined;

const choices = new WeakMap<ProducerRecord, PartitionChoice>();

export function deferPlacement(record: ProducerRecord, choose: PartitionChoice): ProducerRecord {
  choices.set(record, choose);
  return record;
}

export function hasDeferredPlacement(records: ProducerRecord[]): boolean {
  return records.some((record) => choices.has(record));
}

/**
 * The records in order, each deferred one replaced by a copy per chosen partition (none when the
 * partitioner chose none; as it is when the partitioner left the choice to the default). A
 * partitioner that throws or names a partition outside the topic sends the record to the dead
 * letter topic instead, with the reason: by commit time the input record it came from is gone,
 * so the dead letter holds the output's bytes (Kafka Streams hands such a send failure to its
 * production exception handler).
 */
export async function placeDeferred(records: ProducerRecord[], partitionCount: (topic: string) => Promise<number>, dlqTopic: string): Promise<ProducerRecord[]> {
  const placed: ProducerRecord[] = [];
  for (const record of records) {
    const choose = choices.get(record);
    if (!choose) {
      placed.push(record);
      continue;
    }
    // Outside the try: a count the log cannot give now (broker away) fails the commit, which is
    // retried; only the partitioner's own failure is the record's.
    const count = await partitionCount(record.topic);
    choices.delete(record);
    let partitions: number[] | undefined;
    try {
      partitions = choose(count);
    } catch (error) {
      const reason = `placing a record on "${record.topic}": ${error instanceof Error ? error.message : String(error)}`;
      placed.push({ ...record, topic: dlqTopic, headers: deadLetterHeaders(record.headers ?? {}, undefined, reason, Date.now()) });
      continue;
    }
    if (partitions === undefined) placed.push(record);
    else for (const partition of partitions) placed.push({ ...record, partition });
  }
  return placed;
}

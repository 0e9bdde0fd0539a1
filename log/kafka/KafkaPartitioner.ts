import type { ProducerRecord } from '../Log.js';
import { partitionForKey } from '../Murmur2.js';
import { headersToKafka } from './KafkaRecords.js';

/** A record as the Kafka client sends it, its partition already decided. */
export interface KafkaMessage {
  topic: string;
  partition: number;
  key?: Buffer;
  value?: Buffer;
  headers?: Map<Buffer, Buffer>;
  timestamp: bigint;
}

/**
 * Chooses the partition of every record sent to Kafka, for plain and transactional produce alike:
 * a keyed record by murmur2 of its key (log/Murmur2.ts), so a key lands on the same partition
 * number as in the embedded log and as with Kafka's Java clients; an unkeyed one round-robin.
 */
export class KafkaPartitioner {
  private readonly roundRobin = new Map<string, number>();

  constructor(private readonly partitionCount: (topic: string) => Promise<number>) {}

  async toMessages(records: ProducerRecord[]): Promise<KafkaMessage[]> {
    const out: KafkaMessage[] = [];
    for (const record of records) {
      let partition = record.partition;
      if (partition === undefined) {
        const count = await this.partitionCount(record.topic);
        if (record.key) partition = partitionForKey(record.key, count);
        else {
          const next = this.roundRobin.get(record.topic) ?? 0;
          this.roundRobin.set(record.topic, next + 1);
          partition = next % count;
        }
      }
      out.push({
        topic: record.topic,
        partition,
        key: record.key ?? undefined,
        value: record.value ?? undefined,
        headers: headersToKafka(record.headers),
        timestamp: BigInt(record.timestamp ?? Date.now()),
      });
    }
    return out;
  }
}

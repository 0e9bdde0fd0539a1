import type { Consumer } from '@platformatic/kafka';
import { partitionKey, UnknownTopicError, type LogRecord, type TopicPartition } from '../Log.js';
import { decodeFetchedPartition } from './KafkaRecords.js';
import { EARLIEST, LATEST, listPartitionOffsets } from './KafkaOffsets.js';

const READ_COMMITTED = 1;
const READ_AHEAD_PARTITIONS = 8;

/**
 * Reads of a partition outside any group (restore of stores, global tables, tools, tests) and its
 * offsets, on the log's one reader client. Everything is read_committed: open transactions are
 * neither read nor counted.
 */
export class KafkaPartitionReader {
  /** Records fetched by read() beyond what it returned, for the read that continues there. */
  private readonly readAhead = new Map<string, { from: number; records: LogRecord[]; nextOffset: number }>();

  /** partitionCount: the log's, which rejects with UnknownTopicError for a topic that does not exist. */
  constructor(
    private readonly reader: Consumer,
    private readonly partitionCount: (topic: string) => Promise<number>,
  ) {}

  beginningOffset(tp: TopicPartition): Promise<number> {
    return this.listOffset(tp, EARLIEST);
  }

  /** Under read_committed this is the last stable offset: open transactions are not counted. */
  endOffset(tp: TopicPartition): Promise<number> {
    return this.listOffset(tp, LATEST);
  }

  beginningOffsets(partitions: TopicPartition[]): Promise<Map<string, number>> {
    return this.listOffsets(partitions, EARLIEST);
  }

  /** Last stable offsets, as endOffset. */
  endOffsets(partitions: TopicPartition[]): Promise<Map<string, number>> {
    return this.listOffsets(partitions, LATEST);
  }

  /** One ListOffsets per leader for all of them; the topics are checked first, as listOffset does (their counts are cached). */
  private async listOffsets(partitions: TopicPartition[], timestamp: bigint): Promise<Map<string, number>> {
    for (const topic of new Set(partitions.map((tp) => tp.topic))) {
      const count = await this.partitionCount(topic);
      const outside = partitions.find((tp) => tp.topic === topic && (tp.partition < 0 || tp.partition >= count));
      if (outside) throw new RangeError(`topic "${topic}" has ${count} partitions, no partition ${outside.partition}`);
    }
    const offsets = await listPartitionOffsets(this.reader, partitions, timestamp);
    for (const tp of partitions) if (!offsets.has(partitionKey(tp))) throw new Error(`no offset for ${partitionKey(tp)}`);
    return offsets;
  }

  private async listOffset(tp: TopicPartition, timestamp: bigint): Promise<number> {
    await this.partitionCount(tp.topic);
    const value = (await listPartitionOffsets(this.reader, [tp], timestamp)).get(partitionKey(tp));
    if (value === undefined) throw new Error(`no offset for ${partitionKey(tp)}`);
    return value;
  }

  /**
   * Direct Fetch (read_committed, so never past the last stable offset). One fetch brings up to
   * 4 MiB; what is not returned is kept for the next read that continues from there, so a
   * restore that reads a partition front to back costs one round trip per 4 MiB.
   */
  async read(tp: TopicPartition, fromOffset: number, maxRecords: number): Promise<LogRecord[]> {
    const key = partitionKey(tp);
    const out: LogRecord[] = [];
    let position = fromOffset;
    const ahead = this.readAhead.get(key);
    this.readAhead.delete(key);
    if (ahead && ahead.from === fromOffset && maxRecords > 0) {
      const served = ahead.records.splice(0, maxRecords);
      out.push(...served);
      if (ahead.records.length > 0) {
        // Keyed by where the caller continues: right after the last record it got (any offsets
        // in between are transaction markers or aborted records).
        this.readAhead.set(key, { from: served[served.length - 1]!.offset + 1, records: ahead.records, nextOffset: ahead.nextOffset });
        return out;
      }
      position = ahead.nextOffset;
    }
    while (out.length < maxRecords) {
      const metadata = await this.reader.metadata({ topics: [tp.topic] });
      const info = metadata.topics.get(tp.topic);
      const leader = info?.partitions[tp.partition]?.leader;
      if (!info || leader === undefined) throw new UnknownTopicError(tp.topic);
      const response = await this.reader.fetch({
        node: leader,
        maxWaitTime: 0,
        minBytes: 1,
        maxBytes: 8 * 1024 * 1024,
        isolationLevel: READ_COMMITTED,
        topics: [{ topicId: info.id, partitions: [{ partition: tp.partition, fetchOffset: BigInt(position), partitionMaxBytes: 4 * 1024 * 1024, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
      });
      const partitionResponse = response.responses[0]?.partitions.find((p) => p.partitionIndex === tp.partition);
      if (!partitionResponse) break;
      if (partitionResponse.errorCode !== 0) throw new Error(`fetch of ${key} at ${position} failed with Kafka error code ${partitionResponse.errorCode}`);
      const { records, nextOffset } = decodeFetchedPartition(tp.topic, partitionResponse, position);
      const room = maxRecords - out.length;
      out.push(...records.slice(0, room));
      if (records.length > room) {
        const rest = records.slice(room);
        this.readAhead.set(key, { from: out[out.length - 1]!.offset + 1, records: rest, nextOffset });
        // Bounded: a few partitions read in turn (up to 4 MiB each); the oldest is dropped.
        if (this.readAhead.size > READ_AHEAD_PARTITIONS) this.readAhead.delete(this.readAhead.keys().next().value!);
        break;
      }
      if (nextOffset <= position) break;
      position = nextOffset;
    }
    return out;
  }
}

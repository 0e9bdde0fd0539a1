import { Consumer, type Admin } from '@platformatic/kafka';
import { partitionKey, type LogRecord, type TopicPartition } from '../Log.js';
import { EARLIEST, LATEST, listPartitionOffsets, startingOffsets } from './KafkaOffsets.js';
import { decodeFetchedPartition, hasKafkaError } from './KafkaRecords.js';
import type { KafkaClientSecurity } from './KafkaSecurity.js';

const READ_COMMITTED = 1;
/** Longest single fetch wait, so a rebalance or pause is noticed between fetches. */
export const MAX_FETCH_WAIT_MS = 250;

export interface PartitionFetcherSettings {
  clientId: string;
  brokers: string[];
  /** Where the committed offsets of newly assigned partitions are read. */
  admin: Admin;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  /** TLS / SASL options (KafkaSecurity.ts) for the fetch client. */
  security?: KafkaClientSecurity;
}

/**
 * A consumer's partitions and the records fetched for them, as Kafka's SubscriptionState and
 * Fetcher together: which partitions the member holds (GroupMembership assigns and drops them),
 * the position, pause and fetched-but-not-returned records of each, and the read_committed
 * fetches that fill them, one request per leader broker.
 */
export class PartitionFetcher {
  private readonly client: Consumer;
  private readonly owned = new Map<string, TopicPartition>();
  private readonly positions = new Map<string, number>();
  private readonly buffered = new Map<string, LogRecord[]>();
  private readonly paused = new Set<string>();

  constructor(
    private readonly settings: PartitionFetcherSettings,
    private readonly groupId: string,
    private readonly reset: 'earliest' | 'latest',
  ) {
    this.client = new Consumer({
      ...settings.security,
      clientId: `${settings.clientId}-fetch`,
      bootstrapBrokers: settings.brokers,
      groupId,
      autocommit: false,
      isolationLevel: READ_COMMITTED,
      connectTimeout: settings.connectTimeoutMs,
      timeout: settings.requestTimeoutMs + MAX_FETCH_WAIT_MS,
      retries: settings.retries,
      retryDelay: settings.retryBackoffMs,
    });
  }

  assignment(): TopicPartition[] {
    return [...this.owned.values()];
  }

  owns(tp: TopicPartition): boolean {
    return this.owned.has(partitionKey(tp));
  }

  /** Takes partitions on, each starting at the group's committed offset or else at the reset point. */
  async assign(partitions: TopicPartition[]): Promise<void> {
    const starts = await startingOffsets(this.settings.admin, this.client, this.groupId, partitions, this.reset);
    for (const [key, offset] of starts) this.positions.set(key, offset);
    for (const tp of partitions) this.owned.set(partitionKey(tp), tp);
  }

  /** Forgets partitions: their positions, pauses and whatever was fetched for them. */
  drop(partitions: TopicPartition[]): void {
    for (const tp of partitions) {
      const key = partitionKey(tp);
      this.owned.delete(key);
      this.positions.delete(key);
      this.buffered.delete(key);
      this.paused.delete(key);
    }
  }

  seek(tp: TopicPartition, offset: number): void {
    const key = partitionKey(tp);
    this.positions.set(key, offset);
    this.buffered.delete(key);
  }

  pause(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.paused.add(partitionKey(tp));
  }

  resume(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.paused.delete(partitionKey(tp));
  }

  position(tp: TopicPartition): number | undefined {
    const key = partitionKey(tp);
    if (!this.owned.has(key)) return undefined;
    // Fetched but not yet returned: the position is the first record still held here.
    const held = this.buffered.get(key);
    return held && held.length > 0 ? held[0]!.offset : this.positions.get(key);
  }

  /** Records fetched for owned, unpaused partitions and not yet returned. */
  bufferedCount(): number {
    let count = 0;
    for (const [key, records] of this.buffered) if (!this.paused.has(key) && this.owned.has(key)) count += records.length;
    return count;
  }

  /** Up to maxRecords fetched records of owned, unpaused partitions, in offset order per partition. */
  takeBuffered(maxRecords: number): LogRecord[] {
    const out: LogRecord[] = [];
    for (const [key, records] of this.buffered) {
      if (out.length >= maxRecords) break;
      if (this.paused.has(key) || !this.owned.has(key)) continue;
      const taken = records.splice(0, maxRecords - out.length);
      out.push(...taken);
      if (records.length === 0) this.buffered.delete(key);
    }
    return out;
  }

  /** One fetch round over the owned, unpaused partitions that have nothing buffered. */
  async fetchOnce(waitMs: number): Promise<void> {
    const wanted = this.assignment().filter((tp) => {
      const key = partitionKey(tp);
      return !this.paused.has(key) && !this.buffered.has(key) && this.positions.has(key);
    });
    if (wanted.length === 0) {
      // Nothing to fetch (all paused): wait like a fetch would, then let poll re-check.
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      return;
    }
    const metadata = await this.client.metadata({ topics: [...new Set(wanted.map((tp) => tp.topic))] });
    const byLeader = new Map<number, Map<string, { topicId: string; topic: string; partitions: number[] }>>();
    for (const tp of wanted) {
      const info = metadata.topics.get(tp.topic);
      const leader = info?.partitions[tp.partition]?.leader;
      if (!info || leader === undefined || leader < 0) continue;
      const topics = byLeader.get(leader) ?? new Map();
      const entry = topics.get(tp.topic) ?? { topicId: info.id, topic: tp.topic, partitions: [] };
      entry.partitions.push(tp.partition);
      topics.set(tp.topic, entry);
      byLeader.set(leader, topics);
    }
    await Promise.all(
      [...byLeader].map(async ([node, topics]) => {
        const request = [...topics.values()];
        let response;
        try {
          response = await this.client.fetch({
            node,
            maxWaitTime: waitMs,
            minBytes: 1,
            maxBytes: 8 * 1024 * 1024,
            isolationLevel: READ_COMMITTED,
            topics: request.map(({ topicId, topic, partitions }) => ({
              topicId,
              partitions: partitions.map((partition) => ({
                partition,
                fetchOffset: BigInt(this.positions.get(`${topic}:${partition}`) ?? 0),
                partitionMaxBytes: 1024 * 1024,
                currentLeaderEpoch: -1,
                lastFetchedEpoch: -1,
              })),
            })),
          });
        } catch (error) {
          if (hasKafkaError(error, 'OFFSET_OUT_OF_RANGE')) await this.resetOutOfRange(request.flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition }))));
          else throw error;
          return;
        }
        const topicById = new Map(request.map((entry) => [entry.topicId, entry.topic]));
        for (const topicResponse of response.responses) {
          const topic = topicById.get(topicResponse.topicId);
          if (!topic) continue;
          for (const partitionResponse of topicResponse.partitions) {
            const key = `${topic}:${partitionResponse.partitionIndex}`;
            const position = this.positions.get(key);
            // Revoked, sought or paused while the fetch was out: drop what it brought.
            if (position === undefined || !this.owned.has(key) || this.buffered.has(key)) continue;
            const { records, nextOffset } = decodeFetchedPartition(topic, partitionResponse, position);
            this.positions.set(key, nextOffset);
            if (records.length > 0) this.buffered.set(key, records);
          }
        }
      }),
    );
  }

  private async resetOutOfRange(partitions: TopicPartition[]): Promise<void> {
    const offsets = await listPartitionOffsets(this.client, partitions, this.reset === 'earliest' ? EARLIEST : LATEST);
    for (const [key, offset] of offsets) if (this.positions.has(key)) this.positions.set(key, offset);
  }

  /** After a failed request: the next one asks for fresh metadata (leaders may have moved). */
  clearMetadata(): void {
    this.client.clearMetadata();
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => undefined);
  }
}

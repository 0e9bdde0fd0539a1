import { NamedError } from '../errors/NamedError.js';
/**
 * The log: topics split into partitions of keyed, timestamped records, addressed by offset.
 *
 * Two implementations sit behind this interface and nothing above it may tell them apart:
 * - EmbeddedLog (log/embedded/): RocksDB on local disk, one process, the default.
 * - KafkaLog (log/kafka/): Apache Kafka through @platformatic/kafka, for scale-out.
 *
 * Conventions follow Kafka so the two modes agree:
 * - offsets are per partition, start at 0 and grow by one per record (numbers, not bigints:
 *   2^53 records per partition is beyond any topic we will see);
 * - a committed consumer offset is the offset of the NEXT record to read;
 * - endOffset is the offset the next appended record will get (the high watermark; under
 *   read_committed, the last stable offset);
 * - a record without an explicit partition goes to murmur2(key) % partitions (log/Murmur2.ts),
 *   so a key lands on the same partition number in both modes.
 */

/**
 * Header values are UTF-8 strings on our side; Kafka carries them as bytes and allows a key
 * twice. Headers from outside producers that are not UTF-8, or repeat a key, do not round-trip:
 * the last value of a key wins.
 */
export type RecordHeaders = Record<string, string>;

export interface ProducerRecord {
  topic: string;
  key: Buffer | null;
  /** null is a tombstone (deletes the key in compacted topics). */
  value: Buffer | null;
  headers?: RecordHeaders;
  /** Epoch milliseconds; the log stamps Date.now() when absent. */
  timestamp?: number;
  /** Explicit partition; otherwise chosen by murmur2 of the key (round-robin for null keys). */
  partition?: number;
}

export interface LogRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeaders;
  timestamp: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  offset: number;
}

export type RecordMetadata = TopicPartitionOffset;

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';

export interface TopicConfig {
  partitions: number;
  /** Kafka's cleanup.policy; changelogs are 'compact', windowed changelogs 'compact,delete'. */
  cleanupPolicy?: CleanupPolicy;
  /** retention.ms for 'delete' and 'compact,delete'; undefined keeps the broker default. */
  retentionMs?: number;
  /**
   * retention.bytes: the bytes each partition of a 'delete' or 'compact,delete' topic keeps; the
   * oldest records beyond it are deleted. -1 = unlimited; undefined keeps the broker default
   * (embedded: LOG_RETENTION_BYTES, default -1).
   */
  retentionBytes?: number;
}

export interface RebalanceListener {
  /** Called before the first records of newly assigned partitions are returned by poll. */
  onAssigned(partitions: TopicPartition[]): Promise<void>;
  /** Called before partitions are taken away; the listener commits and closes their work here. */
  onRevoked(partitions: TopicPartition[]): Promise<void>;
  /**
   * Called instead of onRevoked when the partitions are already gone (the member's session
   * expired; Kafka's onPartitionsLost): their uncommitted work cannot be committed any more and
   * must be dropped. Without it, onRevoked is called.
   */
  onLost?(partitions: TopicPartition[]): Promise<void>;
}

export interface ConsumerOptions {
  groupId: string;
  /** Where to start a partition that has no committed offset. Default 'earliest'. */
  autoOffsetReset?: 'earliest' | 'latest';
}

/** LogConsumer.sessionLease: what is known of a member's group session. */
export interface SessionLease {
  /** ms the session is known to hold from now; 0 when lost, not joined or not confirmed. */
  remainingMs: number;
  /**
   * Changes whenever the member is found to have lost its session: two leases of the same epoch,
   * the later one confirmed, prove one unbroken session between them.
   */
  epoch: number;
}

/**
 * A member of a consumer group. Offsets are never auto-committed: the owner commits through
 * commitOffsets or, for exactly-once, inside a Transaction.
 * A group may have several members in both modes (embedded: within the process that owns the
 * log, e.g. one per stream thread through RemoteLog). Both assign with log/TaskAssignor.ts:
 * partition NUMBERS (the same number of every subscribed, co-partitioned topic on one member),
 * balanced, sticky and cooperative (a member only loses what moves; onRevoked on the old owner
 * ends before onAssigned on the new one). A member alone in its group gets every partition.
 * A commit of offsets for a partition the member no longer owns is refused (Kafka: stale
 * generation; embedded: CommitFencedError).
 */
export interface LogConsumer {
  readonly groupId: string;
  subscribe(topics: string[], listener: RebalanceListener): Promise<void>;
  /**
   * Records from the assigned, unpaused partitions, in offset order within each partition.
   * Waits up to timeoutMs for at least one record; resolves [] on timeout.
   */
  poll(maxRecords: number, timeoutMs: number): Promise<LogRecord[]>;
  /** Next poll of this partition starts at offset. */
  seek(partition: TopicPartition, offset: number): void;
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  assignment(): TopicPartition[];
  /**
   * The offset of the next record poll() would return for an assigned partition: past every
   * record already returned and past the transaction markers the log skipped; undefined when
   * not assigned or not yet known. Exactly-once commits use it once a task has nothing buffered
   * (Kafka Streams, KAFKA-6607): committing last-processed + 1 would leave the commit marker
   * that follows it counted as lag forever.
   */
  position(partition: TopicPartition): number | undefined;
  /** Commit outside a transaction (at-least-once users such as the ClickHouse sink). */
  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void>;
  /**
   * How long this member's group session is known to hold; asks the group when less than half
   * the session is known (or always, with `fresh`). A member can be expired (paused process,
   * unreachable broker) and its partitions given to another before its next poll tells it.
   * Absent where no session can lapse unnoticed (the embedded log's members share one process).
   */
  sessionLease?(options?: { fresh?: boolean }): Promise<SessionLease>;
  /** Leaves the group; the listener's onRevoked is called for the partitions held, which then go to the other members. */
  close(): Promise<void>;
}

/**
 * Exactly-once unit of work: produced records and consumer offsets become visible together or
 * not at all. Embedded: one atomic RocksDB write batch. Kafka: one transaction (EOS v2).
 */
export interface Transaction {
  produce(records: ProducerRecord[]): void;
  /** Offsets of the consumer's group to commit with this transaction (next offset to read). */
  sendOffsets(consumer: LogConsumer, offsets: TopicPartitionOffset[]): void;
  commit(): Promise<RecordMetadata[]>;
  abort(): Promise<void>;
}

export interface TransactionalProducer {
  readonly transactionalId: string;
  begin(): Promise<Transaction>;
  close(): Promise<void>;
}

export interface Log {
  readonly kind: 'embedded' | 'kafka';
  /**
   * Creates the topic if it does not exist; an existing topic keeps its partition count (callers
   * that need co-partitioning check partitionCount).
   */
  ensureTopic(topic: string, config: TopicConfig): Promise<void>;
  /** Partition count of an existing topic; rejects with UnknownTopicError otherwise. */
  partitionCount(topic: string): Promise<number>;
  listTopics(): Promise<string[]>;
  /** Appends and resolves once durable (embedded: in the RocksDB WAL; Kafka: acks=all). */
  produce(records: ProducerRecord[]): Promise<RecordMetadata[]>;
  beginningOffset(partition: TopicPartition): Promise<number>;
  endOffset(partition: TopicPartition): Promise<number>;
  /**
   * beginningOffset of every partition, keyed "topic:partition" (partitionKey), in one round
   * trip (Kafka: one ListOffsets per leader; RemoteLog: one message), for the monitors that read
   * them every second. Rejects as beginningOffset would for any of them (UnknownTopicError,
   * RangeError for a partition the topic does not have).
   */
  beginningOffsets(partitions: TopicPartition[]): Promise<Map<string, number>>;
  /** endOffset of every partition, keyed "topic:partition", in one round trip (see beginningOffsets). */
  endOffsets(partitions: TopicPartition[]): Promise<Map<string, number>>;
  /**
   * Reads a partition directly, outside any group: restore of stores, global tables, tools, tests.
   * Returns up to maxRecords records with offset >= fromOffset (fewer at the end of the partition).
   */
  read(partition: TopicPartition, fromOffset: number, maxRecords: number): Promise<LogRecord[]>;
  committedOffsets(groupId: string, partitions: TopicPartition[]): Promise<Map<string, number>>;
  createConsumer(options: ConsumerOptions): LogConsumer;
  createTransactionalProducer(transactionalId: string): Promise<TransactionalProducer>;
  /** True when the log answers right now (used by /ready and the ingress breaker). */
  isHealthy(): Promise<boolean>;
  close(): Promise<void>;
}

export class UnknownTopicError extends NamedError {
  constructor(readonly topic: string) {
    super(`unknown topic "${topic}"`);
  }
}

/** "topic:partition", the key used in offset maps. */
export function partitionKey(tp: TopicPartition): string {
  return `${tp.topic}:${tp.partition}`;
}

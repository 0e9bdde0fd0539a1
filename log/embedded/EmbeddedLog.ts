import {
  UnknownTopicError,
  partitionKey,
  type ConsumerOptions,
  type Log,
  type LogConsumer,
  type LogRecord,
  type ProducerRecord,
  type RecordMetadata,
  type TopicConfig,
  type TopicPartition,
  type TopicPartitionOffset,
  type TransactionalProducer,
} from '../Log.js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AppendSignal } from './AppendSignal.js';
import { EmbeddedConsumer, type ConsumerHost } from './EmbeddedConsumer.js';
import { EmbeddedGroup, ownershipGuard } from './EmbeddedGroup.js';
import { TransactionRegistry, type TransactionHost } from './EmbeddedTransactions.js';
import { GroupCommitWriter, type CommitUnit, type PendingOffset, type PendingRecord } from './GroupCommitWriter.js';
import { FORMAT_KEY, committedOffsetKey, readOffset } from './KeyLayout.js';
import { LogCleaner, type CleanerResult } from './LogCleaner.js';
import { LogDatabase } from './LogDatabase.js';
import { readPartition } from './PartitionReader.js';
import { placeRecords } from './RecordPlacement.js';
import { EmbeddedLogMetrics } from './EmbeddedLogMetrics.js';
import { TopicCatalog, type PartitionState, type TopicState } from './TopicCatalog.js';

export interface EmbeddedLogOptions {
  /** Directory of the RocksDB database (created if missing). One process at a time (RocksDB LOCK). */
  dir: string;
  /**
   * Partitions of a topic created implicitly by produce() when autoCreateTopics is on (Kafka's
   * num.partitions). Default 1.
   */
  defaultPartitions?: number;
  /**
   * Create a missing topic on produce(), like a broker with auto.create.topics.enable. Default
   * false, matching our Kafka broker setup: topics come from ensureTopic, and produce() to a
   * missing topic rejects with UnknownTopicError, so a typo fails in both modes alike.
   */
  autoCreateTopics?: boolean;
  /** How often compaction and retention run in the background (LogCleaner); 0 disables. Default 60 s. */
  cleanupIntervalMs?: number;
  /** Kafka's delete.retention.ms: how long a compacted topic keeps a tombstone. Default 24 h. */
  tombstoneRetentionMs?: number;
  /**
   * Kafka's log.retention.bytes (LOG_RETENTION_BYTES): bytes a partition of a 'delete' topic keeps
   * when its topic sets no retentionBytes. Default -1, unlimited.
   */
  retentionBytes?: number;
  /**
   * fsync the RocksDB WAL on every group commit, so an acknowledged record also survives a power
   * cut or kernel crash. Default false: a process crash never loses an acknowledged record either
   * way (see GroupCommitWriter.flush).
   */
  fsync?: boolean;
  /** Registers the streamline_log_* metrics here when given. */
  registry?: Registry;
  /** Where background problems (a failed cleaner pass or write) are reported. */
  logger?: Logger;
}

/**
 * The log on one local RocksDB database: the default, single-process mode. See KeyLayout.ts for the
 * layout, GroupCommitWriter for the append path and its durability, EmbeddedConsumer for groups,
 * EmbeddedTransactions for exactly-once.
 */
export class EmbeddedLog implements Log, ConsumerHost, TransactionHost {
  readonly kind = 'embedded' as const;
  readonly catalog: TopicCatalog;
  readonly signal = new AppendSignal();
  private readonly writer: GroupCommitWriter;
  private readonly transactions: TransactionRegistry;
  private readonly groups = new Map<string, EmbeddedGroup>();
  private readonly consumers = new Set<EmbeddedConsumer>();
  private readonly defaultPartitions: number;
  private readonly autoCreateTopics: boolean;
  private closing: Promise<void> | null = null;
  private readonly cleaner: LogCleaner;
  private cleaning: Promise<CleanerResult> | null = null;
  private cleanupTimer: NodeJS.Timeout | null = null;
  private readonly metrics: EmbeddedLogMetrics | null;
  private readonly logger: Logger | undefined;
  /** Set when the last group commit failed (e.g. disk full), cleared by the next that succeeds. */
  private lastWriteFailed = false;

  private constructor(
    private readonly db: LogDatabase,
    options: EmbeddedLogOptions,
  ) {
    this.catalog = new TopicCatalog(db);
    this.logger = options.logger;
    this.metrics = options.registry ? new EmbeddedLogMetrics(options.registry, this.catalog) : null;
    this.writer = new GroupCommitWriter(
      db,
      (partitions, records) => {
        this.lastWriteFailed = false;
        this.metrics?.batchWritten(records);
        if (partitions.size > 0) this.signal.notify();
      },
      (err) => {
        this.lastWriteFailed = true;
        this.metrics?.batchFailed();
        this.logger?.error({ err }, 'embedded log: group commit failed');
      },
      options.fsync ?? false,
    );
    this.transactions = new TransactionRegistry(this);
    this.defaultPartitions = options.defaultPartitions ?? 1;
    this.autoCreateTopics = options.autoCreateTopics ?? false;
    this.cleaner = new LogCleaner(db, this.catalog, {
      tombstoneRetentionMs: options.tombstoneRetentionMs ?? 24 * 60 * 60 * 1000,
      retentionBytes: options.retentionBytes,
    });
    const interval = options.cleanupIntervalMs ?? 60_000;
    if (interval > 0) {
      this.cleanupTimer = setInterval(() => {
        // A failed background pass is retried next interval; compactNow() surfaces errors.
        this.cleanNow(false).catch((err: unknown) => {
          if (this.closing === null) this.logger?.warn({ err }, 'embedded log: cleaner pass failed');
        });
      }, interval);
      this.cleanupTimer.unref();
    }
  }

  static async open(options: EmbeddedLogOptions): Promise<EmbeddedLog> {
    const db = await LogDatabase.open(options.dir);
    const log = new EmbeddedLog(db, options);
    try {
      log.catalog.load();
    } catch (err) {
      await db.close();
      throw err;
    }
    return log;
  }

  // ---- topics ----

  async ensureTopic(topic: string, config: TopicConfig): Promise<void> {
    this.assertOpen();
    this.catalog.ensure(topic, config);
  }

  async partitionCount(topic: string): Promise<number> {
    this.assertOpen();
    return this.catalog.require(topic).partitions.length;
  }

  async listTopics(): Promise<string[]> {
    this.assertOpen();
    return this.catalog.names();
  }

  // ---- produce ----

  /**
   * Resolves once the records are in the RocksDB WAL (see GroupCommitWriter.flush for why there
   * is no fsync per append). Calls made in the same event-loop turn share one write batch.
   * Partitions are chosen now; key and value bytes are copied at the write, on the next
   * setImmediate, so callers must not modify those buffers before the promise settles.
   */
  produce(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    return new Promise<RecordMetadata[]>((resolve, reject) => {
      try {
        this.assertOpen();
        const pending = this.resolveRecords(records);
        if (pending.length === 0) {
          resolve([]);
          return;
        }
        this.writer.submit({ records: pending, offsets: [], resolve, reject });
      } catch (err) {
        reject(err);
      }
    });
  }

  resolveRecords(records: ProducerRecord[]): PendingRecord[] {
    return placeRecords(records, this.topicForProduce);
  }

  /** An arrow bound once: produce is hot, and a closure per call would be garbage per call. */
  private readonly topicForProduce = (name: string): TopicState => {
    const topic = this.catalog.get(name);
    if (topic) return topic;
    if (!this.autoCreateTopics) throw new UnknownTopicError(name);
    return this.catalog.ensure(name, { partitions: this.defaultPartitions });
  };

  submit(unit: CommitUnit): void {
    try {
      this.assertOpen();
    } catch (err) {
      unit.reject(err);
      return;
    }
    this.writer.submit(unit);
  }

  commit(offsets: PendingOffset[], precondition?: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.submit({ records: [], offsets, precondition, resolve: () => resolve(), reject });
    });
  }

  // ---- reads ----

  async beginningOffset(tp: TopicPartition): Promise<number> {
    this.assertOpen();
    return this.catalog.partition(tp).logStart;
  }

  async endOffset(tp: TopicPartition): Promise<number> {
    this.assertOpen();
    return this.catalog.partition(tp).end;
  }

  async beginningOffsets(partitions: TopicPartition[]): Promise<Map<string, number>> {
    this.assertOpen();
    return new Map(partitions.map((tp) => [partitionKey(tp), this.catalog.partition(tp).logStart]));
  }

  async endOffsets(partitions: TopicPartition[]): Promise<Map<string, number>> {
    this.assertOpen();
    return new Map(partitions.map((tp) => [partitionKey(tp), this.catalog.partition(tp).end]));
  }

  async read(tp: TopicPartition, fromOffset: number, maxRecords: number): Promise<LogRecord[]> {
    this.assertOpen();
    return this.readPartition(this.catalog.partition(tp), fromOffset, maxRecords);
  }

  readPartition(ps: PartitionState, fromOffset: number, maxRecords: number): LogRecord[] {
    return readPartition(this.db, ps, fromOffset, maxRecords);
  }

  // ---- groups ----

  async committedOffsets(groupId: string, partitions: TopicPartition[]): Promise<Map<string, number>> {
    this.assertOpen();
    const result = new Map<string, number>();
    const known: Array<[string, PartitionState]> = [];
    for (const tp of partitions) {
      const topic = this.catalog.get(tp.topic);
      const ps = topic?.partitions[tp.partition];
      if (ps) known.push([`${tp.topic}:${tp.partition}`, ps]);
    }
    const values = this.db.getMany(known.map(([, ps]) => committedOffsetKey(groupId, ps.topicId, ps.partition)));
    known.forEach(([key], i) => {
      const v = values[i];
      if (v) result.set(key, readOffset(v, 0));
    });
    return result;
  }

  committedOffset(groupId: string, ps: PartitionState): number | undefined {
    const [v] = this.db.getMany([committedOffsetKey(groupId, ps.topicId, ps.partition)]);
    return v ? readOffset(v, 0) : undefined;
  }

  resolveOffsets(groupId: string, offsets: TopicPartitionOffset[]): PendingOffset[] {
    return offsets.map((o) => {
      if (!Number.isInteger(o.offset) || o.offset < 0) throw new RangeError(`invalid offset ${o.offset}`);
      return { groupId, partition: this.catalog.partition(o), offset: o.offset };
    });
  }

  createConsumer(options: ConsumerOptions): LogConsumer {
    this.assertOpen();
    const consumer = new EmbeddedConsumer(this, options);
    this.consumers.add(consumer);
    return consumer;
  }

  joinGroup(consumer: EmbeddedConsumer): EmbeddedGroup {
    let group = this.groups.get(consumer.groupId);
    if (!group) this.groups.set(consumer.groupId, (group = new EmbeddedGroup(consumer.groupId)));
    group.join(consumer);
    return group;
  }

  leaveGroup(consumer: EmbeddedConsumer): void {
    const group = this.groups.get(consumer.groupId);
    if (group) {
      group.leave(consumer);
      if (group.size === 0) this.groups.delete(consumer.groupId);
    }
    this.consumers.delete(consumer);
  }

  /** Commit fencing by partition ownership: see ownershipGuard in EmbeddedGroup.ts. */
  ownershipGuard(consumer: LogConsumer, partitions: TopicPartition[]): (() => void) | undefined {
    const member = consumer instanceof EmbeddedConsumer ? consumer : undefined;
    if (!member && !this.groups.has(consumer.groupId)) return undefined;
    return ownershipGuard(this.groups, consumer.groupId, partitions, member);
  }

  async createTransactionalProducer(transactionalId: string): Promise<TransactionalProducer> {
    this.assertOpen();
    return this.transactions.create(transactionalId);
  }

  /** RocksDB write batches and records appended since open: shows group commit at work. */
  appendStats(): { batches: number; records: number } {
    return { batches: this.writer.batches, records: this.writer.records };
  }

  // ---- cleanup ----

  /**
   * Runs compaction ('compact' topics) and time retention ('delete' topics with retentionMs) now,
   * over every topic; see LogCleaner. `force: false` is what the periodic pass (every
   * cleanupIntervalMs) does: compact only partitions past the dirty ratio or with a tombstone due.
   * One pass at a time: a call during a pass waits for it, then runs. `now` lets tests age records.
   */
  async compactNow(options: { now?: number; force?: boolean } = {}): Promise<CleanerResult> {
    return this.cleanNow(options.force ?? true, options.now);
  }

  private async cleanNow(force: boolean, now?: number): Promise<CleanerResult> {
    this.assertOpen();
    while (this.cleaning) await this.cleaning.catch(() => undefined);
    const pass = this.cleaner.run(now ?? Date.now(), () => this.closing === null, force);
    this.cleaning = pass;
    try {
      const result = await pass;
      this.metrics?.cleanerPass(result);
      return result;
    } finally {
      this.cleaning = null;
    }
  }

  // ---- lifecycle ----

  /** Open, answering a read, and the last group commit did not fail. */
  async isHealthy(): Promise<boolean> {
    if (this.closing !== null || !this.db.isOpen || this.lastWriteFailed) return false;
    try {
      this.db.getMany([FORMAT_KEY]);
      return true;
    } catch {
      return false;
    }
  }

  assertOpen(): void {
    if (this.closing) throw new Error('embedded log is closed');
  }

  /** Idempotent. Writes what was already accepted, ends waiting polls, closes the database. */
  close(): Promise<void> {
    if (!this.closing) {
      this.writer.flush();
      if (this.cleanupTimer) clearInterval(this.cleanupTimer);
      this.closing = (async () => {
        // The cleaner checks `closing` between steps; let its current step end before closing RocksDB.
        await this.cleaning?.catch(() => undefined);
        for (const consumer of this.consumers) consumer.abandon();
        this.consumers.clear();
        this.groups.clear();
        await this.db.close();
      })();
    }
    return this.closing;
  }
}

export function openEmbeddedLog(options: EmbeddedLogOptions): Promise<EmbeddedLog> {
  return EmbeddedLog.open(options);
}

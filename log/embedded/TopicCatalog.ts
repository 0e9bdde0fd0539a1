import { UnknownTopicError, type CleanupPolicy, type TopicConfig, type TopicPartition } from '../Log.js';
import {
  END_OFFSET,
  FORMAT_KEY,
  FORMAT_VERSION,
  LOG_START_OFFSET,
  TOPIC_RANGE,
  encodeOffsetValue,
  partitionStateKey,
  readOffset,
  recordKey,
  recordKeyOffset,
  topicKey,
} from './KeyLayout.js';
import type { LogDatabase } from './LogDatabase.js';
import { lastOffsetInBatch } from './RecordBatch.js';

/** In-memory state of one partition; the source of truth for readers between appends. */
export interface PartitionState {
  readonly topic: string;
  readonly topicId: number;
  readonly partition: number;
  /** Offset the next appended record gets (high watermark). */
  end: number;
  /** First offset that may still exist; raised by retention, never by compaction (as in Kafka). */
  logStart: number;
  /**
   * The record batch read last (EmbeddedLog.readPartition): a reader continuing where it stopped
   * (a consumer, a restore) starts from it without seeking RocksDB again. The cleaner drops it
   * whenever it rewrites or deletes batches of the partition.
   */
  lastBatch?: { base: number; last: number; value: Buffer };
}

export interface TopicState {
  readonly name: string;
  readonly id: number;
  readonly partitions: PartitionState[];
  readonly cleanupPolicy: CleanupPolicy;
  readonly retentionMs: number | undefined;
  /** retention.bytes per partition ('delete' topics); undefined: the log's default; -1: unlimited. */
  readonly retentionBytes: number | undefined;
  /** Round-robin cursor for records without key or partition. */
  nextRoundRobin: number;
}

interface StoredTopicMeta {
  id: number;
  partitions: number;
  cleanupPolicy: CleanupPolicy;
  retentionMs?: number;
  retentionBytes?: number;
}

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]+$/;
const VALID_POLICIES: ReadonlySet<string> = new Set(['delete', 'compact', 'compact,delete']);

/**
 * Topics and their partitions' offsets. Loaded once at open; end offsets are persisted with every
 * append (same batch), so recovery does not depend on the last record still existing after
 * compaction or retention removed it.
 */
export class TopicCatalog {
  private readonly byName = new Map<string, TopicState>();
  private nextTopicId = 1;
  /** Bumped when a topic is created: consumer groups assign again when it moved (EmbeddedGroup). */
  version = 0;

  constructor(private readonly db: LogDatabase) {}

  load(): void {
    this.checkFormat();
    for (const [key, value] of this.db.scan(TOPIC_RANGE)) {
      const name = key.toString('utf8', 1);
      const meta = JSON.parse(value.toString('utf8')) as StoredTopicMeta;
      this.byName.set(name, this.createState(name, meta));
      this.nextTopicId = Math.max(this.nextTopicId, meta.id + 1);
    }
    for (const topic of this.byName.values()) {
      for (const ps of topic.partitions) this.recoverOffsets(ps);
    }
  }

  /**
   * The on-disk format version (FORMAT_KEY). Version 2 stores record batches; a directory written
   * by version 1 (one entry per record, never released) is refused rather than misread.
   */
  private checkFormat(): void {
    const [stored] = this.db.getMany([FORMAT_KEY]);
    if (stored) {
      if (stored.toString() !== FORMAT_VERSION) {
        throw new Error(`embedded log format ${stored.toString()} is not supported (expected ${FORMAT_VERSION})`);
      }
      return;
    }
    if (this.db.scan({ ...TOPIC_RANGE, limit: 1 }).length > 0) {
      throw new Error('embedded log directory was written by an older, unsupported format: move it away and start fresh');
    }
    this.db.write([{ type: 'put', key: FORMAT_KEY, value: Buffer.from(FORMAT_VERSION) }], true);
  }

  private recoverOffsets(ps: PartitionState): void {
    const [end, start] = this.db.getMany([
      partitionStateKey(ps.topicId, ps.partition, END_OFFSET),
      partitionStateKey(ps.topicId, ps.partition, LOG_START_OFFSET),
    ]);
    ps.end = end ? readOffset(end, 0) : 0;
    ps.logStart = start ? readOffset(start, 0) : 0;
    // Belt and braces: a record past the stored end (cannot happen, records and end are one
    // batch) would otherwise be overwritten by the next append.
    const [last] = this.db.scan({
      gte: recordKey(ps.topicId, ps.partition, 0),
      lt: recordKey(ps.topicId, ps.partition + 1, 0),
      reverse: true,
      limit: 1,
    });
    if (last) ps.end = Math.max(ps.end, lastOffsetInBatch(last[1], recordKeyOffset(last[0])) + 1);
  }

  private createState(name: string, meta: StoredTopicMeta): TopicState {
    const partitions: PartitionState[] = [];
    for (let p = 0; p < meta.partitions; p++) {
      partitions.push({ topic: name, topicId: meta.id, partition: p, end: 0, logStart: 0 });
    }
    return {
      name,
      id: meta.id,
      partitions,
      cleanupPolicy: meta.cleanupPolicy,
      retentionMs: meta.retentionMs,
      retentionBytes: meta.retentionBytes,
      nextRoundRobin: 0,
    };
  }

  /** Creates the topic if missing; an existing topic keeps its partition count and config. */
  ensure(name: string, config: TopicConfig): TopicState {
    const existing = this.byName.get(name);
    if (existing) return existing;
    // Kafka's rules (Topic.validate), so a name that works here also works on a broker.
    if (!LEGAL_TOPIC.test(name) || name.length > 249 || name === '.' || name === '..') {
      throw new Error(`invalid topic name "${name}": use 1-249 of [a-zA-Z0-9._-], as Kafka requires`);
    }
    if (!Number.isInteger(config.partitions) || config.partitions < 1) {
      throw new RangeError(`partitions must be a positive integer, got ${config.partitions}`);
    }
    const cleanupPolicy = config.cleanupPolicy ?? 'delete';
    if (!VALID_POLICIES.has(cleanupPolicy)) throw new Error(`invalid cleanup policy "${cleanupPolicy}"`);
    const meta: StoredTopicMeta = { id: this.nextTopicId, partitions: config.partitions, cleanupPolicy };
    if (config.retentionMs !== undefined) meta.retentionMs = config.retentionMs;
    if (config.retentionBytes !== undefined) {
      if (!Number.isInteger(config.retentionBytes) || config.retentionBytes < -1) {
        throw new RangeError(`retentionBytes must be an integer >= -1 (-1 = unlimited), got ${config.retentionBytes}`);
      }
      meta.retentionBytes = config.retentionBytes;
    }
    // Topic creation is rare: fsync it so a topic never vanishes while its records survive.
    this.db.write([{ type: 'put', key: topicKey(name), value: Buffer.from(JSON.stringify(meta)) }], true);
    this.nextTopicId++;
    const state = this.createState(name, meta);
    this.byName.set(name, state);
    this.version++;
    return state;
  }

  get(name: string): TopicState | undefined {
    return this.byName.get(name);
  }

  require(name: string): TopicState {
    const topic = this.byName.get(name);
    if (!topic) throw new UnknownTopicError(name);
    return topic;
  }

  partition(tp: TopicPartition): PartitionState {
    const topic = this.require(tp.topic);
    const ps = topic.partitions[tp.partition];
    if (!ps) {
      throw new RangeError(`topic "${tp.topic}" has ${topic.partitions.length} partitions, no partition ${tp.partition}`);
    }
    return ps;
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  topics(): IterableIterator<TopicState> {
    return this.byName.values();
  }
}

export function endOffsetEntry(ps: PartitionState, end: number): { key: Buffer; value: Buffer } {
  return { key: partitionStateKey(ps.topicId, ps.partition, END_OFFSET), value: encodeOffsetValue(end) };
}

export function logStartEntry(ps: PartitionState, start: number): { key: Buffer; value: Buffer } {
  return { key: partitionStateKey(ps.topicId, ps.partition, LOG_START_OFFSET), value: encodeOffsetValue(start) };
}

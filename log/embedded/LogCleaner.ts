import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { readInteger, type Env } from '../../config/index.js';
import { recordKey, recordKeyOffset } from './KeyLayout.js';
import type { LogDatabase, WriteOp } from './LogDatabase.js';
import { forEachInBatch, RECORD_OVERHEAD, rewriteBatch, type BatchEntry } from './RecordBatch.js';
import { peekKeyAndTombstone, peekTimestamp } from './RecordCodec.js';
import { logStartEntry, type PartitionState, type TopicCatalog, type TopicState } from './TopicCatalog.js';

export interface CleanerOptions {
  /** How long a tombstone stays readable after compaction could drop it (Kafka's delete.retention.ms, default 24 h). */
  tombstoneRetentionMs: number;
  /** Record batches (up to 1000 records each) scanned per step; the cleaner yields to the event loop between steps. */
  chunk?: number;
  /**
   * Kafka's log.retention.bytes: the size a partition of a 'delete' topic may keep when its topic
   * sets no retentionBytes of its own (LOG_RETENTION_BYTES). -1 or undefined: unlimited.
   */
  retentionBytes?: number;
}

export interface CleanerResult {
  /** Older records of a key removed by compaction. */
  compacted: number;
  /** Tombstones removed after tombstoneRetentionMs. */
  tombstones: number;
  /** Records removed by retention: time (retentionMs) or size (retentionBytes). */
  expired: number;
}

/**
 * What Kafka's log cleaner and retention do, on RocksDB:
 * - cleanup.policy 'compact' (changelogs, reference tables): keeps the latest record per key;
 *   older ones are deleted, offsets keep their numbers (gaps, as in Kafka); a tombstone (null
 *   value) that is the latest of its key is deleted once older than tombstoneRetentionMs, so
 *   restoring consumers have time to see it. Records with a null key are kept.
 * - 'delete' with retentionMs: records older than retentionMs (by record timestamp) are deleted
 *   from the head of the partition up to the first newer one, and the log start offset moves
 *   past them (Kafka deletes whole segments by their newest timestamp: same effect, coarser).
 * - 'delete' with retentionBytes (the topic's, else the log's default, Kafka's retention.bytes
 *   and log.retention.bytes): while a partition's stored bytes (its record batches as stored)
 *   exceed it, the oldest records are deleted and the log start offset moves past them. Kafka
 *   deletes whole segments (1 GB by default), so it keeps up to retention.bytes + a segment; here
 *   the partition keeps at most retentionBytes, trimmed record by record.
 * - 'compact,delete': both.
 * Unlike Kafka, the whole partition is cleaned, including its newest records (there is no
 * active segment); a consumer positioned before a removed record simply skips the gap, and one
 * whose position is before the new log start is reset by its auto.offset.reset (EmbeddedConsumer).
 */
const MIN_CLEANABLE_DIRTY_RATIO = 0.5;

/**
 * LOG_RETENTION_BYTES: Kafka's log.retention.bytes for the embedded log, the bytes each partition
 * of a 'delete' topic keeps unless the topic sets its own retentionBytes. Default -1, unlimited
 * (Kafka's default). On Kafka the broker's own log.retention.bytes plays this part.
 */
export function readLogRetentionBytes(env: Env): number {
  return readInteger(env, 'LOG_RETENTION_BYTES', -1, -1);
}

export class LogCleaner {
  /** What the last compaction of a partition left: its end, survivors, and when a kept tombstone expires. */
  private readonly cleaned = new Map<PartitionState, { end: number; survivors: number; tombstoneDueAt: number }>();
  /**
   * Stored bytes of partitions under size retention, below `end`: counted by one scan the first
   * time, then kept up to date from what was appended since (read once, while recent) and what
   * the cleaner removes. Compaction drops the count (it is taken again when next needed).
   */
  private readonly sizes = new Map<PartitionState, { end: number; bytes: number }>();
  private readonly chunk: number;

  constructor(
    private readonly db: LogDatabase,
    private readonly catalog: TopicCatalog,
    private readonly options: CleanerOptions,
  ) {
    this.chunk = options.chunk ?? 16;
  }

  /**
   * One pass over every topic. `force` compacts every partition that changed; otherwise (the
   * periodic pass) a partition is compacted only when its dirty ratio — records appended since its
   * last compaction over all its records — reaches MIN_CLEANABLE_DIRTY_RATIO (Kafka's
   * min.cleanable.dirty.ratio, 0.5) or a kept tombstone has come due, so a large changelog is not
   * rescanned every interval.
   */
  async run(now: number, isOpen: () => boolean, force = true): Promise<CleanerResult> {
    const result: CleanerResult = { compacted: 0, tombstones: 0, expired: 0 };
    for (const topic of [...this.catalog.topics()]) {
      const retentionBytes = topic.retentionBytes ?? this.options.retentionBytes ?? -1;
      for (const ps of topic.partitions) {
        if (!isOpen()) return result;
        if (hasDelete(topic) && topic.retentionMs !== undefined) {
          const cutoff = now - topic.retentionMs;
          result.expired += await this.trimHead(ps, isOpen, (slice) => peekTimestamp(slice) < cutoff);
        }
        if (!isOpen()) return result;
        if (hasDelete(topic) && retentionBytes >= 0) {
          const size = await this.sizeOf(ps, isOpen);
          if (size === undefined) return result;
          let over = size - retentionBytes;
          if (over > 0) {
            result.expired += await this.trimHead(ps, isOpen, (slice) => {
              if (over <= 0) return false;
              over -= slice.length + RECORD_OVERHEAD;
              return true;
            });
          }
        }
        if (!isOpen()) return result;
        if (topic.cleanupPolicy !== 'delete' && this.needsCompaction(ps, now, force)) {
          this.sizes.delete(ps);
          await this.compact(ps, now, result, isOpen);
        }
      }
    }
    return result;
  }

  /**
   * The partition's stored bytes below its end (record batches as stored), counting what was
   * appended since the last call; undefined when the log closed meanwhile.
   */
  private async sizeOf(ps: PartitionState, isOpen: () => boolean): Promise<number | undefined> {
    const known = this.sizes.get(ps) ?? { end: 0, bytes: 0 };
    const end = ps.end;
    if (known.end >= end) return known.bytes;
    let bytes = known.bytes;
    for await (const rows of this.batches(ps, end, isOpen, known.end)) {
      for (const [, value] of rows) bytes += value.length;
    }
    if (!isOpen()) return undefined;
    this.sizes.set(ps, { end, bytes });
    return bytes;
  }

  /**
   * Deletes records from the head of the partition while `drop` says so (asked in offset order,
   * with each record's stored bytes, until it first says no) and moves the log start past them.
   * Time retention drops what is older than its cutoff, size retention what is over its bytes.
   */
  private async trimHead(ps: PartitionState, isOpen: () => boolean, drop: (record: Buffer) => boolean): Promise<number> {
    const end = ps.end;
    if (ps.logStart >= end) return 0;
    let removed = 0;
    let reachedNewer = false;
    for await (const rows of this.batches(ps, end, isOpen)) {
      const ops: WriteOp[] = [];
      let next = ps.logStart;
      let freed = 0;
      for (const [key, value] of rows) {
        const base = recordKeyOffset(key);
        const keep: BatchEntry[] = [];
        let dropped = 0;
        forEachInBatch(value, base, (offset, start, stop) => {
          if (offset < ps.logStart) {
            dropped++;
          } else if (!reachedNewer && drop(value.subarray(start, stop))) {
            dropped++;
            removed++;
            next = offset + 1;
          } else {
            if (!reachedNewer) next = offset;
            reachedNewer = true;
            keep.push({ offset, start, end: stop });
          }
        });
        if (dropped > 0) {
          const op = rewriteOp(key, value, base, keep);
          freed += value.length - (op.type === 'put' ? op.value.length : 0);
          ops.push(op);
        }
        if (reachedNewer) break;
      }
      if (reachedNewer && next === ps.logStart && ops.length === 0) return removed;
      const newStart = Math.max(next, ps.logStart);
      const entry = logStartEntry(ps, newStart);
      ops.push({ type: 'put', key: entry.key, value: entry.value });
      this.db.write(ops);
      const size = this.sizes.get(ps);
      if (size) size.bytes -= freed;
      ps.lastBatch = undefined;
      ps.logStart = newStart;
      if (reachedNewer) return removed;
    }
    if (!reachedNewer && isOpen() && ps.logStart < end) {
      // Everything up to the snapshot end has expired (gaps included).
      const entry = logStartEntry(ps, end);
      this.db.write([{ type: 'put', key: entry.key, value: entry.value }]);
      ps.logStart = end;
    }
    return removed;
  }

  private needsCompaction(ps: PartitionState, now: number, force: boolean): boolean {
    const last = this.cleaned.get(ps);
    if (!last) return ps.end > ps.logStart;
    if (now >= last.tombstoneDueAt) return true;
    const dirty = ps.end - last.end;
    if (dirty === 0) return false;
    return force || dirty / (last.survivors + dirty) >= MIN_CLEANABLE_DIRTY_RATIO;
  }

  private async compact(ps: PartitionState, now: number, result: CleanerResult, isOpen: () => boolean): Promise<void> {
    const end = ps.end;

    // Pass 1: the latest offset of every key.
    const latest = new Map<string, number>();
    for await (const rows of this.batches(ps, end, isOpen)) {
      for (const [key, value] of rows) {
        forEachInBatch(value, recordKeyOffset(key), (offset, start, stop) => {
          if (offset >= end) return false;
          const k = peekKeyAndTombstone(value.subarray(start, stop)).key;
          if (k !== null) latest.set(k.toString('latin1'), offset);
        });
      }
    }

    // Pass 2: drop what is superseded, and tombstones past their retention.
    const tombstoneCutoff = now - this.options.tombstoneRetentionMs;
    let tombstoneDueAt = Infinity;
    let survivors = 0;
    for await (const rows of this.batches(ps, end, isOpen)) {
      const ops: WriteOp[] = [];
      for (const [key, value] of rows) {
        const base = recordKeyOffset(key);
        const keep: BatchEntry[] = [];
        let dropped = 0;
        forEachInBatch(value, base, (offset, start, stop) => {
          const peek = peekKeyAndTombstone(value.subarray(start, stop));
          if (offset >= end || peek.key === null) {
            keep.push({ offset, start, end: stop });
            if (offset < end) survivors++;
          } else if (latest.get(peek.key.toString('latin1')) !== offset) {
            dropped++;
            result.compacted++;
          } else if (peek.tombstone && peek.timestamp < tombstoneCutoff) {
            dropped++;
            result.tombstones++;
          } else {
            if (peek.tombstone) tombstoneDueAt = Math.min(tombstoneDueAt, peek.timestamp + this.options.tombstoneRetentionMs);
            keep.push({ offset, start, end: stop });
            survivors++;
          }
        });
        if (dropped > 0) ops.push(rewriteOp(key, value, base, keep));
      }
      if (ops.length > 0) {
        this.db.write(ops);
        ps.lastBatch = undefined;
      }
    }
    if (!isOpen()) return;
    this.cleaned.set(ps, { end, survivors, tombstoneDueAt });
  }

  /** The partition's record batches below `end`, a few at a time, yielding to the event loop between. */
  private async *batches(ps: PartitionState, end: number, isOpen: () => boolean, fromOffset = 0): AsyncGenerator<Array<[Buffer, Buffer]>> {
    let from = recordKey(ps.topicId, ps.partition, fromOffset);
    const lt = recordKey(ps.topicId, ps.partition, end);
    while (isOpen()) {
      const rows = this.db.scan({ gte: from, lt, limit: this.chunk });
      if (rows.length === 0) return;
      yield rows;
      if (rows.length < this.chunk) return;
      from = recordKey(ps.topicId, ps.partition, recordKeyOffset(rows[rows.length - 1][0]) + 1);
      await yieldToLoop();
    }
  }
}

/** Replaces a batch by its kept records (same key, same offsets), or deletes it when none are left. */
function rewriteOp(key: Buffer, value: Buffer, base: number, keep: BatchEntry[]): WriteOp {
  const rewritten = rewriteBatch(value, base, keep);
  return rewritten ? { type: 'put', key, value: rewritten } : { type: 'del', key };
}

function hasDelete(topic: TopicState): boolean {
  return topic.cleanupPolicy === 'delete' || topic.cleanupPolicy === 'compact,delete';
}

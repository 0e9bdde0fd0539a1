import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { recordKey, recordKeyOffset } from './keys.js';
import type { LogDatabase, WriteOp } from './LogDatabase.js';
import { forEachInBatch, rewriteBatch, type BatchEntry } from './recordBatch.js';
import { peekKeyAndTombstone, peekTimestamp } from './recordCodec.js';
import { logStartEntry, type PartitionState, type TopicCatalog, type TopicState } from './TopicCatalog.js';

export interface CleanerOptions {
  /** How long a tombstone stays readable after compaction could drop it (Kafka's delete.retention.ms, default 24 h). */
  tombstoneRetentionMs: number;
  /** Record batches (up to 1000 records each) scanned per step; the cleaner yields to the event loop between steps. */
  chunk?: number;
}

export interface CleanerResult {
  /** Older records of a key removed by compaction. */
  compacted: number;
  /** Tombstones removed after tombstoneRetentionMs. */
  tombstones: number;
  /** Records removed by time retention. */
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
 * - 'compact,delete': both.
 * Unlike Kafka, the whole partition is cleaned, including its newest records (there is no
 * active segment); a consumer positioned before a removed record simply skips the gap.
 */
const MIN_CLEANABLE_DIRTY_RATIO = 0.5;

export class LogCleaner {
  /** What the last compaction of a partition left: its end, survivors, and when a kept tombstone expires. */
  private readonly cleaned = new Map<PartitionState, { end: number; survivors: number; tombstoneDueAt: number }>();
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
      for (const ps of topic.partitions) {
        if (!isOpen()) return result;
        if (hasDelete(topic) && topic.retentionMs !== undefined) {
          result.expired += await this.expire(ps, now - topic.retentionMs, isOpen);
        }
        if (!isOpen()) return result;
        if (topic.cleanupPolicy !== 'delete' && this.needsCompaction(ps, now, force)) {
          await this.compact(ps, now, result, isOpen);
        }
      }
    }
    return result;
  }

  /** Deletes the expired head of the partition and moves the log start past it. */
  private async expire(ps: PartitionState, cutoff: number, isOpen: () => boolean): Promise<number> {
    const end = ps.end;
    if (ps.logStart >= end) return 0;
    let removed = 0;
    let reachedNewer = false;
    for await (const rows of this.batches(ps, end, isOpen)) {
      const ops: WriteOp[] = [];
      let next = ps.logStart;
      for (const [key, value] of rows) {
        const base = recordKeyOffset(key);
        const keep: BatchEntry[] = [];
        let dropped = 0;
        forEachInBatch(value, base, (offset, start, stop) => {
          if (offset < ps.logStart) {
            dropped++;
          } else if (!reachedNewer && peekTimestamp(value.subarray(start, stop)) < cutoff) {
            dropped++;
            removed++;
            next = offset + 1;
          } else {
            if (!reachedNewer) next = offset;
            reachedNewer = true;
            keep.push({ offset, start, end: stop });
          }
        });
        if (dropped > 0) ops.push(rewriteOp(key, value, base, keep));
        if (reachedNewer) break;
      }
      if (reachedNewer && next === ps.logStart && ops.length === 0) return removed;
      const newStart = Math.max(next, ps.logStart);
      const entry = logStartEntry(ps, newStart);
      ops.push({ type: 'put', key: entry.key, value: entry.value });
      this.db.write(ops);
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
  private async *batches(ps: PartitionState, end: number, isOpen: () => boolean): AsyncGenerator<Array<[Buffer, Buffer]>> {
    let from = recordKey(ps.topicId, ps.partition, 0);
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

import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { recordKey, recordKeyOffset } from './keys.js';
import type { LogDatabase, WriteOp } from './LogDatabase.js';
import { peekKeyAndTombstone, peekTimestamp } from './recordCodec.js';
import { logStartEntry, type PartitionState, type TopicCatalog, type TopicState } from './TopicCatalog.js';

export interface CleanerOptions {
  /** How long a tombstone stays readable after compaction could drop it (Kafka's delete.retention.ms, default 24 h). */
  tombstoneRetentionMs: number;
  /** Records scanned per step; the cleaner yields to the event loop between steps. */
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
export class LogCleaner {
  private readonly compactedUpTo = new Map<PartitionState, number>();
  private readonly tombstonesLeft = new Set<PartitionState>();
  private readonly chunk: number;

  constructor(
    private readonly db: LogDatabase,
    private readonly catalog: TopicCatalog,
    private readonly options: CleanerOptions,
  ) {
    this.chunk = options.chunk ?? 10_000;
  }

  async run(now: number, isOpen: () => boolean): Promise<CleanerResult> {
    const result: CleanerResult = { compacted: 0, tombstones: 0, expired: 0 };
    for (const topic of [...this.catalog.topics()]) {
      for (const ps of topic.partitions) {
        if (!isOpen()) return result;
        if (hasDelete(topic) && topic.retentionMs !== undefined) {
          result.expired += await this.expire(ps, now - topic.retentionMs, isOpen);
        }
        if (!isOpen()) return result;
        if (topic.cleanupPolicy !== 'delete') await this.compact(ps, now, result, isOpen);
      }
    }
    return result;
  }

  private async expire(ps: PartitionState, cutoff: number, isOpen: () => boolean): Promise<number> {
    const end = ps.end;
    let from = ps.logStart;
    let removed = 0;
    while (from < end && isOpen()) {
      const rows = this.db.scan({ gte: recordKey(ps.topicId, ps.partition, from), lt: recordKey(ps.topicId, ps.partition, end), limit: this.chunk });
      const ops: WriteOp[] = [];
      let next = from;
      let reachedNewer = false;
      for (const [key, value] of rows) {
        if (peekTimestamp(value) >= cutoff) {
          next = recordKeyOffset(key);
          reachedNewer = true;
          break;
        }
        ops.push({ type: 'del', key });
        next = recordKeyOffset(key) + 1;
      }
      const exhausted = !reachedNewer && rows.length < this.chunk;
      if (exhausted) next = end; // everything up to the snapshot end has expired (gaps included)
      if (next > ps.logStart) {
        removed += ops.length;
        const entry = logStartEntry(ps, next);
        ops.push({ type: 'put', key: entry.key, value: entry.value });
        this.db.write(ops);
        ps.logStart = next;
      }
      if (reachedNewer || exhausted) break;
      from = next;
      await yieldToLoop();
    }
    return removed;
  }

  private async compact(ps: PartitionState, now: number, result: CleanerResult, isOpen: () => boolean): Promise<void> {
    const end = ps.end;
    if (this.compactedUpTo.get(ps) === end && !this.tombstonesLeft.has(ps)) return;

    // Pass 1: the latest offset of every key.
    const latest = new Map<string, number>();
    for await (const rows of this.chunks(ps, end, isOpen)) {
      for (const [key, value] of rows) {
        const k = peekKeyAndTombstone(value).key;
        if (k !== null) latest.set(k.toString('latin1'), recordKeyOffset(key));
      }
    }

    // Pass 2: delete what is superseded, and tombstones past their retention.
    const tombstoneCutoff = now - this.options.tombstoneRetentionMs;
    let tombstonesKept = false;
    for await (const rows of this.chunks(ps, end, isOpen)) {
      const ops: WriteOp[] = [];
      for (const [key, value] of rows) {
        const peek = peekKeyAndTombstone(value);
        if (peek.key === null) continue;
        const offset = recordKeyOffset(key);
        if (latest.get(peek.key.toString('latin1')) !== offset) {
          ops.push({ type: 'del', key });
          result.compacted++;
        } else if (peek.tombstone) {
          if (peek.timestamp < tombstoneCutoff) {
            ops.push({ type: 'del', key });
            result.tombstones++;
          } else {
            tombstonesKept = true;
          }
        }
      }
      if (ops.length > 0) this.db.write(ops);
    }
    if (!isOpen()) return;
    this.compactedUpTo.set(ps, end);
    if (tombstonesKept) this.tombstonesLeft.add(ps);
    else this.tombstonesLeft.delete(ps);
  }

  private async *chunks(ps: PartitionState, end: number, isOpen: () => boolean): AsyncGenerator<Array<[Buffer, Buffer]>> {
    let from = ps.logStart;
    while (from < end && isOpen()) {
      const rows = this.db.scan({ gte: recordKey(ps.topicId, ps.partition, from), lt: recordKey(ps.topicId, ps.partition, end), limit: this.chunk });
      if (rows.length === 0) return;
      yield rows;
      if (rows.length < this.chunk) return;
      from = recordKeyOffset(rows[rows.length - 1][0]) + 1;
      await yieldToLoop();
    }
  }
}

function hasDelete(topic: TopicState): boolean {
  return topic.cleanupPolicy === 'delete' || topic.cleanupPolicy === 'compact,delete';
}

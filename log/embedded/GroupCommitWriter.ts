import type { RecordHeaders, RecordMetadata } from '../Log.js';
import { committedOffsetKey, encodeOffsetValue, recordKey } from './KeyLayout.js';
import type { ChainedBatch, LogDatabase } from './LogDatabase.js';
import { BATCH_HEADER, BATCH_MAX_BYTES, BATCH_MAX_RECORDS, batchRecordSize, encodeBatchInto } from './RecordBatch.js';
import { endOffsetEntry, type PartitionState } from './TopicCatalog.js';

const NO_OPTIONS = {};

/** A record whose partition is already chosen; its offset is assigned when the batch is written. */
export interface PendingRecord {
  partition: PartitionState;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeaders | undefined;
  timestamp: number;
}

export interface PendingOffset {
  groupId: string;
  partition: PartitionState;
  offset: number;
}

/**
 * One caller's share of a group commit: a produce() call, a transaction commit or an offset
 * commit. Its records and offsets land in the same RocksDB batch, so a unit is all-or-nothing.
 */
export interface CommitUnit {
  records: PendingRecord[];
  offsets: PendingOffset[];
  /** Checked just before the unit joins a batch; a throw rejects this unit alone (fencing). */
  precondition?: () => void;
  resolve(metadata: RecordMetadata[]): void;
  reject(error: unknown): void;
}

/**
 * Group commit: every unit submitted during one turn of the event loop is written as ONE RocksDB
 * batch on the next setImmediate. Under load the ingress issues many produce() calls per turn;
 * one WAL write for all of them is what makes the append rate independent of the call rate.
 * Offsets are assigned here, in submission order, so per-partition order is submission order.
 */
export class GroupCommitWriter {
  private pending: CommitUnit[] = [];
  /** Reused encoding buffer: RocksDB copies keys and values into its WriteBatch on put. */
  private slab = Buffer.allocUnsafeSlow(1 << 20);
  private scheduled: NodeJS.Immediate | null = null;
  /** Batches and records written since open (EmbeddedLog.appendStats). */
  batches = 0;
  records = 0;

  constructor(
    private readonly db: LogDatabase,
    private readonly onAppended: (partitions: Set<PartitionState>, records: number) => void,
    private readonly onFailed: (error: unknown) => void = () => undefined,
    /** fsync the WAL on every group commit (EmbeddedLogOptions.fsync). */
    private readonly fsync = false,
  ) {}

  submit(unit: CommitUnit): void {
    this.pending.push(unit);
    if (!this.scheduled) this.scheduled = setImmediate(() => this.flush());
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  private slabOf(size: number): Buffer {
    if (size > this.slab.length) this.slab = Buffer.allocUnsafeSlow(Math.max(size, this.slab.length * 2));
    return this.slab;
  }

  /**
   * Puts a partition's records of this group commit as record batches (RecordBatch.ts), split at
   * BATCH_MAX_RECORDS / BATCH_MAX_BYTES so a read of one offset never decodes a huge entry.
   */
  private putBatches(batch: ChainedBatch, ps: PartitionState, records: PendingRecord[]): void {
    let from = 0;
    while (from < records.length) {
      let size = BATCH_HEADER;
      let to = from;
      while (to < records.length && to - from < BATCH_MAX_RECORDS) {
        const next = batchRecordSize(records[to]);
        if (to > from && size + next > BATCH_MAX_BYTES) break;
        size += next;
        to++;
      }
      const slab = this.slabOf(size);
      const end = encodeBatchInto(slab, 0, records, from, to);
      batch._put(recordKey(ps.topicId, ps.partition, ps.end + from), slab.subarray(0, end), NO_OPTIONS);
      from = to;
    }
  }

  /** Writes everything pending now (close() uses it so no accepted call is left hanging). */
  flush(): void {
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.scheduled = null;
    }
    const units = this.pending;
    if (units.length === 0) return;
    this.pending = [];

    const newEnds = new Map<PartitionState, number>();
    const byPartition = new Map<PartitionState, PendingRecord[]>();
    const accepted: Array<{ unit: CommitUnit; metadata: RecordMetadata[] }> = [];
    const batch = this.db.beginBatch();
    try {
      for (const unit of units) {
        try {
          unit.precondition?.();
        } catch (err) {
          unit.reject(err);
          continue;
        }
        const metadata: RecordMetadata[] = new Array(unit.records.length);
        for (let i = 0; i < unit.records.length; i++) {
          const r = unit.records[i];
          const ps = r.partition;
          const offset = newEnds.get(ps) ?? ps.end;
          newEnds.set(ps, offset + 1);
          let list = byPartition.get(ps);
          if (!list) byPartition.set(ps, (list = []));
          list.push(r);
          metadata[i] = { topic: ps.topic, partition: ps.partition, offset };
        }
        for (const o of unit.offsets) {
          batch._put(committedOffsetKey(o.groupId, o.partition.topicId, o.partition.partition), encodeOffsetValue(o.offset), NO_OPTIONS);
        }
        accepted.push({ unit, metadata });
      }
      if (accepted.length === 0) return;
      for (const [ps, records] of byPartition) this.putBatches(batch, ps, records);
      for (const [ps, end] of newEnds) {
        const entry = endOffsetEntry(ps, end);
        batch._put(entry.key, entry.value, NO_OPTIONS);
      }
      // By default no fsync per append (sync: false), like Kafka, which acknowledges once the
      // record is in the page cache of its replicas (flush.messages is unset by default) and leaves
      // durability against power loss to replication. Here the batch is in the RocksDB WAL,
      // written to the OS before this call returns: it survives a crash or SIGKILL of this
      // process, not a power cut. An fsync per group commit (option fsync) would bound the
      // append rate by the disk's fsync latency; group commit amortises it over every caller.
      batch._writeSync({ sync: this.fsync });
    } catch (err) {
      // Nothing of this batch was written: fail every caller (settling twice is a no-op).
      this.onFailed(err);
      for (const unit of units) unit.reject(err);
      return;
    } finally {
      this.db.endBatch(batch);
    }

    this.batches++;
    let appended = 0;
    for (const [ps, end] of newEnds) {
      appended += end - ps.end;
      ps.end = end;
    }
    this.records += appended;
    for (const { unit, metadata } of accepted) unit.resolve(metadata);
    this.onAppended(new Set(newEnds.keys()), appended);
  }
}

import type { LogRecord, TopicPartition } from '../log/Log.js';
import type { SinkDeadLetter } from './SinkCommitter.js';
import { memberText } from './SinkRound.js';

export interface Batch {
  first: number;
  last: number;
  records: LogRecord[];
  /** Whether sink_batches already holds this cut (it was found there, or written before the insert). */
  cutRecorded: boolean;
  /**
   * This sink recorded the cut but could not show its group session held until the record landed
   * (RoundWriter): the epoch of the session it recorded under. It is inserted only once that same
   * session is confirmed again; undefined otherwise.
   */
  recordedInDoubt?: number;
  /**
   * The flush round this batch is written in (SinkRound.ts): the recorded one for a recorded cut,
   * the one proposed for it once the sink chose its round partners; null until then. Never
   * changed once set: a replay must combine the same batches.
   */
  round: string | null;
  /** Cut because it reached a bound (records or bytes), not by age: more may be waiting behind it. */
  full: boolean;
}

/** What a record weighs in a batch: its key and value bytes (what the rows are made of). */
export function recordBytes(record: LogRecord): number {
  return (record.key?.length ?? 0) + (record.value?.length ?? 0);
}

/**
 * One assigned partition of the sink: the records polled and not yet committed, and where the
 * next batch is cut.
 *
 * Batches are contiguous offset ranges [nextStart, last]: nextStart is the committed offset,
 * then each batch's last + 1. A record missing at the head (a compacted or expired offset)
 * therefore cannot move a batch's start, and the cut recorded for that start is found again.
 */
export class PartitionBatcher {
  /**
   * Recorded cuts ahead of the batching (first offset → last offset); null until loaded from
   * sink_batches. cut() takes an entry out when it cuts there: batches only move forward, so it is
   * never looked up again, and the map does not grow with the batches written.
   */
  cuts: Map<number, number> | null = null;
  /** The round of each recorded cut (first offset → round text), beside cuts and taken out with it. */
  rounds = new Map<number, string>();
  buffer: LogRecord[] = [];
  /** A batch once cut never changes until it is committed: its dedup token is its identity. */
  pending: Batch | null = null;
  /**
   * Written to ClickHouse, not yet committed: the offset to commit and the dead letters that must
   * be committed with it. A failed commit leaves it here for the next commit of the partition
   * (which then covers later batches too); a crash or a revocation drops it, and the replay
   * rebuilds the same batches and dead letters.
   */
  written: { offset: number; batches: number; deadLetters: SinkDeadLetter[] } | null = null;
  /** recordBytes of everything in buffer. */
  bufferBytes = 0;
  /** Wall time the oldest buffered record arrived. */
  private oldestAt = 0;
  lagCheckedAt = 0;

  constructor(
    readonly tp: TopicPartition,
    /** Committed offset (next to read); undefined when the group never committed here. */
    public committed: number | undefined,
    private readonly maxBatchRecords: number,
    private readonly lingerMs: number,
    /**
     * Record bytes per batch (SINK_BATCH_MAX_BYTES): a batch is cut at whichever of the two bounds
     * comes first, and always holds at least one record (a record larger than the bound is a batch
     * of its own).
     */
    private readonly maxBatchBytes = Infinity,
  ) {
    this.nextStart = committed;
  }

  nextStart: number | undefined;

  /**
   * The committed offset, learnt after assignment (its read failed then). Only before the first
   * cut: cuts stay unloaded until it is known (a batch started anywhere else would miss the cut
   * recorded for the committed offset). Records below it, fetched meanwhile, are dropped.
   */
  learnCommitted(committed: number | undefined): void {
    if (this.cuts) throw new Error(`${this.tp.topic}:${this.tp.partition}: committed offset learnt after its cuts were loaded`);
    this.committed = committed;
    this.nextStart = committed;
    const below = this.buffer.findIndex((record) => record.offset >= (committed ?? 0));
    const dropped = this.buffer.splice(0, below === -1 ? this.buffer.length : below);
    for (const record of dropped) this.bufferBytes -= recordBytes(record);
  }

  /**
   * The recorded cut its next batch must end at, when nothing buffered can reach it: the batch
   * waits for records that may no longer be in the log (ClickHouseSink asks the log, logStartsAt).
   */
  awaitedCut(): { first: number; last: number } | undefined {
    if (this.buffer.length > 0 || !this.cuts || this.cuts.size === 0 || this.pending) return undefined;
    // Never committed, the next batch starts wherever the log does: a recorded cut made there
    // earlier is the first one.
    const first = this.nextStart ?? Math.min(...this.cuts.keys());
    const last = this.cuts.get(first);
    return last === undefined ? undefined : { first, last };
  }

  /**
   * The log holds this partition from `beginning` on. When retention removed the whole of the
   * recorded cut the next batch waits for, that batch is cut empty: its records were in ClickHouse
   * or are gone (the sink was down past the topic's retention), and the rest of its round must not
   * wait for them forever.
   */
  logStartsAt(beginning: number): void {
    const awaited = this.awaitedCut();
    if (awaited && beginning > awaited.last) this.expiredUpTo = awaited.last;
  }

  /** The last offset of a recorded cut whose records the log no longer holds (logStartsAt). */
  private expiredUpTo = -1;

  /** Buffers a record; false for a record delivered again (at or below what is held). */
  add(record: LogRecord, now: number): boolean {
    const held = this.buffer.length > 0 ? this.buffer[this.buffer.length - 1]!.offset : -1;
    if (record.offset < (this.nextStart ?? 0) || record.offset <= held) return false;
    if (this.buffer.length === 0) this.oldestAt = now;
    this.buffer.push(record);
    this.bufferBytes += recordBytes(record);
    return true;
  }

  /**
   * Bounded memory: a partition holding two batches' worth (records or bytes) stops being fetched
   * until written, unless its head batch has a recorded cut not yet reached (a cut made under
   * larger bounds than today's): that batch must be completed, whatever its size.
   */
  overfull(): boolean {
    if (this.buffer.length < 2 * this.maxBatchRecords && this.bufferBytes < 2 * this.maxBatchBytes) return false;
    const recordedLast = this.cuts?.get(this.nextStart ?? this.buffer[0]!.offset);
    return recordedLast === undefined || this.buffer[this.buffer.length - 1]!.offset >= recordedLast;
  }

  /** When the oldest buffered record's linger runs out; undefined with nothing buffered. */
  deadline(): number | undefined {
    return this.buffer.length > 0 ? this.oldestAt + this.lingerMs : undefined;
  }

  /** Whether cut(now, false) would give a batch now (nothing taken). */
  due(now: number): boolean {
    return this.nextBatch(now, false) !== undefined;
  }

  /**
   * The next batch: ended at the recorded cut when sink_batches has one for its start, else by
   * size or by age (or now, with force). null when no batch is due yet or cuts are not loaded.
   */
  cut(now: number, force: boolean): Batch | null {
    const next = this.nextBatch(now, force);
    if (next === undefined) return null;
    const { first, recordedLast, count, full } = next;
    const records = this.buffer.splice(0, count);
    for (const record of records) this.bufferBytes -= recordBytes(record);
    const last = recordedLast ?? records[records.length - 1]!.offset;
    this.nextStart = last + 1;
    if (this.buffer.length > 0) this.oldestAt = now;
    const round = recordedLast === undefined ? null : (this.rounds.get(first) ?? memberText({ ...this.tp, first, last }));
    this.cuts!.delete(first);
    this.rounds.delete(first);
    return { first, last, records, cutRecorded: recordedLast !== undefined, round, full };
  }

  /** Where the next batch starts and how many buffered records it takes; undefined when none is due (cut's rules). */
  private nextBatch(now: number, force: boolean): { first: number; recordedLast: number | undefined; count: number; full: boolean } | undefined {
    if (!this.cuts) return undefined;
    if (this.buffer.length === 0) {
      const expired = this.awaitedCut();
      return expired && expired.last <= this.expiredUpTo ? { first: expired.first, recordedLast: expired.last, count: 0, full: true } : undefined;
    }
    // Never committed: the batch starts at the first record the log still has.
    const first = this.nextStart ?? this.buffer[0]!.offset;
    const recordedLast = this.cuts.get(first);
    if (recordedLast !== undefined) {
      if (this.buffer[this.buffer.length - 1]!.offset < recordedLast) return undefined; // not all polled yet
      const count = this.buffer.findIndex((r) => r.offset > recordedLast);
      return { first, recordedLast, count: count === -1 ? this.buffer.length : count, full: true };
    }
    const bound = this.boundedCount();
    if (!bound.full && !force && now - this.oldestAt < this.lingerMs) return undefined;
    return { first, recordedLast, count: bound.count, full: bound.full };
  }

  /**
   * Records at the head of the buffer that make the next batch: as many as fit both bounds (at
   * least one). full when a bound is reached, i.e. the batch cannot grow any more.
   */
  private boundedCount(): { count: number; full: boolean } {
    const limit = Math.min(this.buffer.length, this.maxBatchRecords);
    if (this.bufferBytes <= this.maxBatchBytes) {
      return { count: limit, full: limit === this.maxBatchRecords || this.bufferBytes === this.maxBatchBytes };
    }
    let bytes = 0;
    let count = 0;
    while (count < limit) {
      const size = recordBytes(this.buffer[count]!);
      if (count > 0 && bytes + size > this.maxBatchBytes) return { count, full: true };
      bytes += size;
      count++;
      if (bytes >= this.maxBatchBytes) return { count, full: true };
    }
    return { count, full: count === this.maxBatchRecords };
  }
}

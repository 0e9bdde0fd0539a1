import { NamedError } from '../errors/NamedError.js';
import type { Log, SessionLease } from '../log/Log.js';
import type { BatchWriter, RoundBatch } from './BatchWriter.js';
import type { ClickHouseSinkOptions, SinkRoute } from './ClickHouseSinkOptions.js';
import { readMember, type PlannedMember, type PlannedRound } from './RoundPlan.js';
import type { SinkBatchLog } from './SinkBatchLog.js';
import { parseRound } from './SinkRound.js';

/** A round failed at one stage: recording its cuts (sink_batches) or inserting its blocks (batch). */
export class RoundWriteError extends NamedError {
  constructor(
    readonly stage: 'sink_batches' | 'batch',
    override readonly cause: unknown,
  ) {
    super(`ClickHouse sink: round failed at ${stage}`, { cause });
  }
}

/**
 * The sink's group session is not known to hold (Kafka mode: its heartbeats went unanswered past
 * the lease, or the group says it is gone): the round's partitions may be another instance's now.
 */
export class SessionLapsedError extends NamedError {
  constructor(readonly stage: 'before the cut' | 'during the cut') {
    super(`ClickHouse sink: group session not known to hold ${stage}; the round waits for the next poll`);
  }
}

export interface RoundWriterOptions {
  log: Log;
  cuts: SinkBatchLog;
  writer: BatchWriter;
  routes: ReadonlyMap<string, SinkRoute[]>;
  /** Records per read when a member is read back from the log. */
  maxReadRecords: number;
  onBatchInserted?: ClickHouseSinkOptions['onBatchInserted'];
  /** The consumer's group session (LogConsumer.sessionLease); absent: it cannot lapse. */
  sessionLease?: (options?: { fresh?: boolean }) => Promise<SessionLease>;
}

/**
 * One planned round (RoundPlan.ts) into ClickHouse: its cuts recorded first (once), then one
 * block per table (BatchWriter), then the batches held here marked written for the next offset
 * commit. The order is the exactly-once argument of SinkBatchLog, for the round as a whole: a
 * crash before the record inserted nothing; after it, every replay finds the round for any of its
 * members and writes the same blocks under the same token.
 */
export class RoundWriter {
  constructor(private readonly options: RoundWriterOptions) {}

  /**
   * Throws RoundWriteError, or SessionLapsedError; the batches then stay pending with their round,
   * to be retried as they are.
   */
  async write({ round, members }: PlannedRound): Promise<void> {
    const held = members.filter((member) => member.work !== null);
    if (held.some((member) => !member.work!.pending!.cutRecorded)) {
      // The session lease: a cut is recorded only while this instance is known to own its
      // partitions, and written only if the record landed before the session could have ended.
      // Otherwise the partitions' new owner, having read sink_batches before this record, cuts the
      // same records differently and both rounds land: doubled rows.
      const lease = await this.lease();
      if (lease.remainingMs <= 0) throw new SessionLapsedError('before the cut');
      try {
        if (!(await this.recordRound(round, held))) return;
      } catch (error) {
        throw new RoundWriteError('sink_batches', error);
      }
      const after = await this.lease();
      if (after.remainingMs <= 0 || after.epoch !== lease.epoch) {
        for (const { work } of held) work!.pending!.recordedInDoubt = lease.epoch;
        throw new SessionLapsedError('during the cut');
      }
    }
    await this.resolveDoubt(held);
    let written;
    try {
      const batches = await Promise.all(
        members.map(async (member): Promise<RoundBatch> => ({
          tp: member,
          batch: member.work?.pending ?? { ...member, records: await readMember(this.options.log, member, this.options.maxReadRecords) },
          routes: this.options.routes.get(member.topic) ?? [],
          owned: member.work !== null,
        })),
      );
      written = await this.options.writer.write(round, batches);
      for (const [i, member] of members.entries()) {
        if (!member.work) continue;
        const batch = member.work.pending!;
        const result = written.batches[i]!;
        await this.options.onBatchInserted?.({
          topic: member.topic, partition: member.partition, firstOffset: batch.first, lastOffset: batch.last, records: batch.records.length,
          rows: result.rows, dedupToken: written.dedupToken, deadLetters: result.deadLetters.length,
        });
      }
    } catch (error) {
      throw new RoundWriteError('batch', error);
    }
    for (const [i, { work }] of members.entries()) {
      if (!work) continue;
      const before = work.written;
      work.written = { offset: work.pending!.last + 1, batches: (before?.batches ?? 0) + 1, deadLetters: [...(before?.deadLetters ?? []), ...written.batches[i]!.deadLetters] };
      work.pending = null;
    }
  }

  private lease(options?: { fresh?: boolean }): Promise<SessionLease> {
    return this.options.sessionLease?.(options) ?? Promise.resolve({ remainingMs: Infinity, epoch: 0 });
  }

  /**
   * A cut recorded in doubt (its record may have landed after the session ended) is written only
   * when a heartbeat sent now is answered in the same session: the session then held from before
   * the record to after it, so no other instance owned the partition meanwhile. Otherwise the
   * round waits: if the session was lost, the next poll drops these batches, and the new owner
   * writes the cut if it saw it, or its own cut of those records if it did not.
   */
  private async resolveDoubt(held: PlannedMember[]): Promise<void> {
    const doubtful = held.filter((member) => member.work!.pending!.recordedInDoubt !== undefined);
    if (doubtful.length === 0) return;
    const now = await this.lease({ fresh: true });
    if (now.remainingMs <= 0 || doubtful.some((member) => member.work!.pending!.recordedInDoubt !== now.epoch)) throw new SessionLapsedError('during the cut');
    for (const { work } of doubtful) work!.pending!.recordedInDoubt = undefined;
  }

  /**
   * Records a round's cuts before its first insert. A round proposed here whose record failed and
   * which lost a member to a rebalance meanwhile is in doubt: if sink_batches holds it, the new
   * owner may replay it, so it is written as recorded; if not, nobody knows it, and its batches
   * are released to be proposed again (false: nothing to write now).
   */
  private async recordRound(round: string, held: PlannedMember[]): Promise<boolean> {
    if (held.length === parseRound(round).length) {
      await this.options.cuts.record(round);
    } else {
      const probe = held[0]!;
      if ((await this.options.cuts.load(probe, probe.first)).get(probe.first)?.round !== round) {
        for (const { work } of held) work!.pending!.round = null;
        return false;
      }
    }
    // The batches carry their cut and round; the partitions' maps of recorded cuts only hold
    // what lies ahead of them (PartitionBatcher.cuts).
    for (const { work } of held) work!.pending!.cutRecorded = true;
    return true;
  }
}

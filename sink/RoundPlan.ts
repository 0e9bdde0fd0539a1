import { partitionKey, type Log, type LogRecord } from '../log/Log.js';
import { recordBytes, type PartitionBatcher } from './PartitionBatcher.js';
import { parseRound, roundText, type RoundMember } from './SinkRound.js';

/** A member of a planned round: the partition's batcher when this sink holds its batch, else null (read from the log). */
export type PlannedMember = RoundMember & { work: PartitionBatcher | null };

export interface PlannedRound {
  round: string;
  members: PlannedMember[];
}

/**
 * Which rounds (SinkRound.ts) a flush writes now, from the batches due. Batches without a round
 * (fresh cuts) are proposed rounds together, within bounds (RoundBounds); a batch with a round, recorded or proposed
 * earlier, is written only in that round, with exactly its members:
 * - a member this sink holds as its pending batch is written from it;
 * - a member of a partition held here but not reached yet (its records not all polled, or an
 *   earlier batch still pending) makes the round wait (`waiting`);
 * - any other member (its partition is another instance's, or it is past that batch here) is
 *   read back from the log, so the round's blocks are rebuilt whole and the ones already in are
 *   dropped by their tokens. Its offsets stay its owner's to commit.
 */
export function planRounds(
  due: readonly PartitionBatcher[],
  works: ReadonlyMap<string, PartitionBatcher>,
  bounds: RoundBounds,
): { ready: PlannedRound[]; waiting: boolean } {
  proposeRounds(due.filter((work) => work.pending!.round === null), bounds);
  const rounds = [...new Set(due.map((work) => work.pending!.round!))];
  const ready: PlannedRound[] = [];
  let waiting = false;
  for (const round of rounds) {
    const members: PlannedMember[] = [];
    let reachable = true;
    for (const member of parseRound(round)) {
      const work = works.get(partitionKey(member)) ?? null;
      if (work?.pending && work.pending.first === member.first && work.pending.last === member.last) members.push({ ...member, work });
      else if (work && !passedBy(work, member)) reachable = false;
      else members.push({ ...member, work: null });
    }
    if (reachable) ready.push({ round, members });
    else waiting = true;
  }
  return { ready, waiting };
}

/**
 * A round holds at most one batch's bounds of records and bytes (SINK_BATCH_MAX_ROWS and _BYTES),
 * so its block costs the engine no more memory than one batch did when each partition was
 * inserted on its own (the memory plan sizes CHDB_MAX_MEMORY_USAGE for one batch). Below them,
 * steady traffic makes one round of all partitions; a catch-up of full batches, one round each.
 */
export interface RoundBounds {
  maxRecords: number;
  maxBytes: number;
}

/** Gives the fresh batches their rounds, in order, a new round whenever the next batch would pass the bounds. */
function proposeRounds(fresh: readonly PartitionBatcher[], { maxRecords, maxBytes }: RoundBounds): void {
  let members: PartitionBatcher[] = [];
  let records = 0;
  let bytes = 0;
  const close = () => {
    const round = roundText(members.map((work) => ({ ...work.tp, first: work.pending!.first, last: work.pending!.last })));
    for (const work of members) work.pending!.round = round;
    members = [];
    records = 0;
    bytes = 0;
  };
  for (const work of fresh) {
    const batch = work.pending!;
    const batchBytes = batch.records.reduce((sum, record) => sum + recordBytes(record), 0);
    if (members.length > 0 && (records + batch.records.length > maxRecords || bytes + batchBytes > maxBytes)) close();
    members.push(work);
    records += batch.records.length;
    bytes += batchBytes;
  }
  if (members.length > 0) close();
}

/** Whether the partition's batching here is beyond the member's batch (written, or committed past it). */
function passedBy(work: PartitionBatcher, member: RoundMember): boolean {
  const next = work.pending?.first ?? work.nextStart;
  return next !== undefined && next > member.first;
}

/** A member's records read from the log outside the group: offsets first..last. */
export async function readMember(log: Log, member: RoundMember, maxRecords: number): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  let from = member.first;
  while (from <= member.last) {
    const read = await log.read(member, from, Math.min(maxRecords, member.last - from + 1));
    const inRange = read.filter((record) => record.offset <= member.last);
    if (inRange.length === 0) break; // the rest is no longer in the log
    records.push(...inRange);
    from = inRange[inRange.length - 1]!.offset + 1;
  }
  return records;
}

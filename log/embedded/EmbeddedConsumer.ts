import {
  partitionKey,
  type ConsumerOptions,
  type LogConsumer,
  type LogRecord,
  type RebalanceListener,
  type TopicPartition,
  type TopicPartitionOffset,
} from '../Log.js';
import type { AppendSignal } from './AppendSignal.js';
import type { EmbeddedGroup, GroupMember, Ownership } from './EmbeddedGroup.js';
import type { PendingOffset } from './GroupCommitWriter.js';
import type { PartitionState, TopicCatalog } from './TopicCatalog.js';

/** What a consumer needs from its EmbeddedLog. */
export interface ConsumerHost {
  readonly catalog: TopicCatalog;
  readonly signal: AppendSignal;
  readPartition(ps: PartitionState, fromOffset: number, maxRecords: number): LogRecord[];
  committedOffset(groupId: string, ps: PartitionState): number | undefined;
  /** Writes the offsets; precondition (ownership still held) is checked when they are written. */
  commit(offsets: PendingOffset[], precondition?: () => void): Promise<void>;
  /** Checks, when a commit is written, that the consumer still owns what it committed for. */
  ownershipGuard(consumer: LogConsumer, partitions: TopicPartition[]): (() => void) | undefined;
  assertOpen(): void;
  /** The consumer's group (created on first join); the consumer becomes one of its members. */
  joinGroup(consumer: EmbeddedConsumer): EmbeddedGroup;
  leaveGroup(consumer: EmbeddedConsumer): void;
}

/**
 * A member of a consumer group of the embedded log (EmbeddedGroup). A group may have any number
 * of members in this process (stream threads each reach the log through their own RemoteLog
 * consumer); the group's partitions are spread over them by partition number, as in Kafka mode.
 * Alone in its group a member gets every partition of its topics (topics created later are
 * picked up by the next poll).
 *
 * Rebalance callbacks run inside poll() as in Kafka: onRevoked for partitions that move to
 * another member (they move once it returns) and on re-subscribe (dropped topics) and close();
 * then onAssigned before the first records of new partitions. Cooperative: partitions a member
 * keeps are never revoked.
 */
export class EmbeddedConsumer implements LogConsumer, GroupMember {
  readonly groupId: string;
  private readonly autoOffsetReset: 'earliest' | 'latest';
  private topics: string[] = [];
  private listener: RebalanceListener | null = null;
  private group: EmbeddedGroup | null = null;
  /** The group generation whose assignment this member has applied. */
  private appliedGeneration = -1;
  private readonly assigned = new Map<string, PartitionState>();
  /** This member's ownership of each assigned partition (commits are checked against it). */
  private readonly claims = new Map<string, Ownership>();
  /** Next offset to return per assigned partition; absent until first fetched or seeked. */
  private readonly positions = new Map<string, number>();
  private readonly paused = new Set<string>();
  private cursor = 0;
  private polling = false;
  private closed = false;
  private wakeWaiter: (() => void) | null = null;
  /** A wake() that came while poll was not waiting (running a listener): poll goes round again. */
  private wokenWhileBusy = false;

  constructor(
    private readonly host: ConsumerHost,
    options: ConsumerOptions,
  ) {
    if (!options.groupId) throw new Error('groupId is required');
    this.groupId = options.groupId;
    this.autoOffsetReset = options.autoOffsetReset ?? 'earliest';
  }

  get subscription(): readonly string[] {
    return this.topics;
  }

  wake(): void {
    if (this.wakeWaiter) this.wakeWaiter();
    else this.wokenWhileBusy = true;
  }

  async subscribe(topics: string[], listener: RebalanceListener): Promise<void> {
    this.assertUsable();
    this.group ??= this.host.joinGroup(this);
    const keep = new Set(topics);
    const revoked = [...this.assigned.values()].filter((ps) => !keep.has(ps.topic));
    if (revoked.length > 0 && this.listener) await this.listener.onRevoked(revoked.map(toTp));
    for (const ps of revoked) this.forget(ps);
    this.topics = [...keep];
    this.listener = listener;
    if (revoked.length > 0) this.group.release(this, revoked.map(toTp));
    this.group.changed(this);
  }

  /**
   * Applies the group's current assignment: revokes what moved away (onRevoked, then the
   * partitions are free for their new owner), then takes what is new (onAssigned). A newer
   * generation arriving meanwhile is applied by the next pass of poll.
   */
  private async refreshAssignment(): Promise<void> {
    const group = this.group;
    if (!this.listener || !group) return;
    const generation = group.refresh(this.host.catalog);
    if (generation === this.appliedGeneration) return;
    this.appliedGeneration = generation;
    try {
      await this.applyAssignment(group, generation);
    } catch (error) {
      // The listener failed: the next poll applies the assignment again (as Kafka's consumer
      // rejoins), revoking what is still to revoke; partitions already taken stay taken.
      this.appliedGeneration = -1;
      throw error;
    }
  }

  private async applyAssignment(group: EmbeddedGroup, generation: number): Promise<void> {
    const listener = this.listener!;
    const target = group.targetOf(this);
    const keep = new Set<string>();
    for (const tp of target) keep.add(partitionKey(tp));
    const revoked: PartitionState[] = [];
    for (const [key, ps] of this.assigned) if (!keep.has(key)) revoked.push(ps);
    if (revoked.length > 0) {
      // Still the owner while the listener runs, so its commits are accepted.
      await listener.onRevoked(revoked.map(toTp));
      for (const ps of revoked) this.forget(ps);
      group.release(this, revoked.map(toTp));
    }
    // Closed meanwhile, or a newer generation came while onRevoked ran: that one is applied next
    // (poll goes round again), rather than taking partitions this one gave and that one may not.
    if (this.closed || group.generation !== generation) return;
    const added: PartitionState[] = [];
    for (const tp of target) {
      const key = partitionKey(tp);
      if (this.assigned.has(key)) continue;
      // Refused when another member still holds it (an assignment applied late): a later generation gives it.
      const ownership = group.acquire(this, tp);
      if (!ownership) continue;
      this.assigned.set(key, this.host.catalog.partition(tp));
      this.claims.set(key, ownership);
      added.push(this.assigned.get(key)!);
    }
    if (added.length > 0) await listener.onAssigned(added.map(toTp));
  }

  async poll(maxRecords: number, timeoutMs: number): Promise<LogRecord[]> {
    this.assertUsable();
    if (this.polling) throw new Error('poll() is already in progress on this consumer');
    if (!(maxRecords > 0)) throw new RangeError('maxRecords must be positive');
    this.polling = true;
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        this.wokenWhileBusy = false;
        await this.refreshAssignment();
        if (this.closed) return [];
        this.host.assertOpen();
        const records = this.fetch(maxRecords);
        if (records.length > 0) return records;
        const remaining = deadline - Date.now();
        if (remaining <= 0) return [];
        // The group changed while the listener ran: apply that before waiting.
        if (this.wokenWhileBusy) continue;
        // Registered synchronously after fetch(): no append can slip in between.
        const { promise, wake } = this.host.signal.wait(remaining);
        this.wakeWaiter = wake;
        await promise;
        this.wakeWaiter = null;
      }
    } finally {
      this.polling = false;
    }
  }

  /**
   * Fair across partitions: each poll starts at the next partition in turn and gives each one an
   * equal share of maxRecords; what a quiet partition leaves unused goes to the others.
   */
  private fetch(maxRecords: number): LogRecord[] {
    const active: PartitionState[] = [];
    for (const [key, ps] of this.assigned) {
      if (this.paused.has(key)) continue;
      if (this.fetchPosition(key, ps) < ps.end) active.push(ps);
    }
    if (active.length === 0) return [];
    const start = this.cursor++ % active.length;
    const order = active.slice(start).concat(active.slice(0, start));
    const out: LogRecord[] = [];
    let share = Math.max(1, Math.ceil(maxRecords / order.length));
    for (let pass = 0; pass < 2 && out.length < maxRecords; pass++) {
      for (const ps of order) {
        const want = Math.min(share, maxRecords - out.length);
        if (want <= 0) break;
        this.fetchPartition(ps, want, out);
      }
      share = maxRecords; // second pass: let busy partitions take what is left
    }
    return out;
  }

  private fetchPartition(ps: PartitionState, want: number, out: LogRecord[]): void {
    const key = partitionKey(ps);
    const from = this.fetchPosition(key, ps);
    if (from >= ps.end) return;
    const records = this.host.readPartition(ps, from, want);
    for (const r of records) out.push(r);
    // Fewer than asked means the rest of [from, end) is gone (compaction gaps): jump to end.
    const next = records.length < want ? ps.end : records[records.length - 1].offset + 1;
    this.positions.set(key, next);
  }

  private fetchPosition(key: string, ps: PartitionState): number {
    let pos = this.positions.get(key);
    if (pos === undefined) {
      pos = this.host.committedOffset(this.groupId, ps) ?? this.resetOffset(ps);
      this.positions.set(key, pos);
    }
    // Out of range (retention removed it, or a seek past the end): apply the reset policy, as
    // Kafka does on OFFSET_OUT_OF_RANGE.
    if (pos < ps.logStart || pos > ps.end) {
      pos = this.resetOffset(ps);
      this.positions.set(key, pos);
    }
    return pos;
  }

  private resetOffset(ps: PartitionState): number {
    return this.autoOffsetReset === 'latest' ? ps.end : ps.logStart;
  }

  seek(tp: TopicPartition, offset: number): void {
    this.assertUsable();
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`invalid offset ${offset}`);
    const key = partitionKey(tp);
    if (!this.assigned.has(key)) throw new Error(`seek on unassigned partition ${key}`);
    this.positions.set(key, offset);
    this.wakeWaiter?.();
  }

  pause(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.paused.add(partitionKey(tp));
  }

  resume(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.paused.delete(partitionKey(tp));
    this.wakeWaiter?.();
  }

  assignment(): TopicPartition[] {
    return [...this.assigned.values()].map(toTp);
  }

  position(tp: TopicPartition): number | undefined {
    const key = partitionKey(tp);
    return this.assigned.has(key) ? this.positions.get(key) : undefined;
  }

  async commitOffsets(offsets: TopicPartitionOffset[]): Promise<void> {
    this.assertUsable();
    await this.host.commit(
      offsets.map((o) => ({ groupId: this.groupId, partition: this.host.catalog.partition(o), offset: o.offset })),
      this.host.ownershipGuard(this, offsets),
    );
  }

  /** This member's current ownership of a partition, if it holds it. */
  claimOf(key: string): Ownership | undefined {
    return this.claims.get(key);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeWaiter?.();
    try {
      if (this.listener && this.assigned.size > 0) await this.listener.onRevoked(this.assignment());
    } finally {
      this.assigned.clear();
      this.claims.clear();
      this.positions.clear();
      this.host.leaveGroup(this);
    }
  }

  /** Called by the log when it closes: ends a waiting poll without running callbacks. */
  abandon(): void {
    this.closed = true;
    this.wakeWaiter?.();
  }

  private forget(ps: PartitionState): void {
    const key = partitionKey(ps);
    this.assigned.delete(key);
    this.claims.delete(key);
    this.positions.delete(key);
    this.paused.delete(key);
  }

  private assertUsable(): void {
    if (this.closed) throw new Error(`consumer of group "${this.groupId}" is closed`);
    this.host.assertOpen();
  }
}

function toTp(ps: PartitionState): TopicPartition {
  return { topic: ps.topic, partition: ps.partition };
}

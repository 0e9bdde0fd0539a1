import { NamedError } from '../../errors/NamedError.js';
import { partitionKey, type RebalanceListener, type SessionLease, type TopicPartition, type TopicPartitionOffset } from '../Log.js';
import { assignCooperative, decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription, type Subscription } from './CooperativeAssignor.js';
import { GroupCoordinator, type GroupCoordinatorSettings } from './GroupCoordinator.js';
import { hasKafkaError } from './KafkaRecords.js';
import type { KafkaLogMetrics } from './KafkaLogMetrics.js';
import type { PartitionFetcher } from './PartitionFetcher.js';

/** Wraps an error thrown by the RebalanceListener so poll() rethrows it instead of retrying. */
export class ListenerError extends NamedError {
  constructor(override readonly cause: unknown) {
    super('rebalance listener failed');
  }
}

/** What a transaction needs to commit offsets as this member (EOS v2 fencing by generation). */
export interface GroupMetadata {
  groupId: string;
  generationId: number;
  memberId: string;
  coordinatorId: number;
}

export interface GroupMembershipSettings extends GroupCoordinatorSettings {
  heartbeatIntervalMs: number;
  retries: number;
  retryBackoffMs: number;
  metrics?: KafkaLogMetrics;
}

/**
 * One consumer's membership of its group on the classic protocol, as Kafka's ConsumerCoordinator:
 * join and sync (this member assigns when it leads, see CooperativeAssignor.ts), the rebalance
 * listener around every change of assignment, and heartbeats. The heartbeat runs in the
 * background but only flags that a rebalance is due or the session was lost; the consumer's poll
 * acts on it through ensure(), so listener callbacks never interleave with returned records.
 */
export class GroupMembership {
  private readonly coordinator: GroupCoordinator;
  private memberId = '';
  private generationId = -1;
  private topics: string[] = [];
  private listener: RebalanceListener | undefined;
  private rejoinNeeded = false;
  private lost = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private heartbeatInFlight = false;
  private left = false;
  /**
   * When the last heartbeat (or SyncGroup) the coordinator answered was sent (performance.now()):
   * the broker expires a member no earlier than sessionTimeoutMs after it last heard from it, so
   * the session holds until this + sessionTimeoutMs.
   */
  private sessionConfirmedAt = -Infinity;
  /** Counts the losses noted (SessionLease.epoch). */
  private lossEpoch = 0;

  constructor(
    readonly groupId: string,
    private readonly settings: GroupMembershipSettings,
    /** Holds the assigned partitions: this class adds and drops them there. */
    private readonly partitions: PartitionFetcher,
  ) {
    this.coordinator = new GroupCoordinator(groupId, settings);
  }

  get subscribed(): boolean {
    return this.listener !== undefined;
  }

  subscribe(topics: string[], listener: RebalanceListener): void {
    this.topics = [...new Set(topics)].sort();
    this.listener = listener;
    this.rejoinNeeded = true;
  }

  /**
   * Group identity for TxnOffsetCommit. Before the first join (no generation yet) it is Kafka's
   * "no member" identity (generation -1, empty member id), which the broker accepts only while
   * the group has no active members, like the Java client's.
   */
  async groupMetadata(): Promise<GroupMetadata> {
    if (this.lost) throw new Error(`consumer of group ${this.groupId} lost its membership (session expired); its offsets cannot be committed`);
    const coordinatorId = await this.coordinator.id();
    if (this.generationId < 0) return { groupId: this.groupId, generationId: -1, memberId: '', coordinatorId };
    return { groupId: this.groupId, generationId: this.generationId, memberId: this.memberId, coordinatorId };
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    try {
      await this.coordinator.commit(this.generationId, this.memberId, offsets);
    } catch (error) {
      this.noteGroupError(error);
      throw error;
    }
  }

  /**
   * How long this member's session is known to hold, in ms (0 when lost or not joined). When less
   * than half the session timeout is known, a heartbeat is sent now to learn more: a member that
   * only heartbeats in the background can have been expired (paused, cut off from the broker) and
   * its partitions given to another member before its next poll tells it. Writers whose output the
   * partitions' next owner would repeat differently check this before they write (the sink's cuts).
   */
  async sessionLease(options: { fresh?: boolean } = {}): Promise<SessionLease> {
    // Rejoining: the answer would be about a generation on its way out (and its error would mark
    // the fresh membership lost); the lease is renewed by the SyncGroup.
    const member = !this.lost && !this.rejoinNeeded && this.memberId !== '' && this.generationId >= 0;
    if (member && (options.fresh || this.sessionLeaseMs() < this.settings.sessionTimeoutMs / 2)) {
      await this.heartbeatNow().catch(() => undefined);
    }
    return { remainingMs: this.rejoinNeeded ? 0 : this.sessionLeaseMs(), epoch: this.lossEpoch };
  }

  private sessionLeaseMs(): number {
    if (this.lost || this.memberId === '' || this.generationId < 0) return 0;
    return Math.max(0, this.sessionConfirmedAt + this.settings.sessionTimeoutMs - performance.now());
  }

  /** Records what a group error means for membership; the next poll acts on it. */
  noteGroupError(error: unknown): void {
    if (hasKafkaError(error, 'REBALANCE_IN_PROGRESS')) this.rejoinNeeded = true;
    if (hasKafkaError(error, 'UNKNOWN_MEMBER_ID') || hasKafkaError(error, 'ILLEGAL_GENERATION') || hasKafkaError(error, 'FENCED_INSTANCE_ID')) {
      // Out of the group (session timed out): the partitions may already be someone else's.
      this.lost = true;
      this.lossEpoch++;
      this.sessionConfirmedAt = -Infinity;
      this.rejoinNeeded = true;
      if (hasKafkaError(error, 'UNKNOWN_MEMBER_ID')) this.memberId = '';
    }
    if (hasKafkaError(error, 'NOT_COORDINATOR') || hasKafkaError(error, 'COORDINATOR_NOT_AVAILABLE')) this.coordinator.forget();
  }

  /** After a failed request: a coordinator connection that dropped is found again next time. */
  forgetIfDisconnected(): void {
    this.coordinator.forgetIfDisconnected();
  }

  /** Joins (again) when subscribing, a rebalance or a lost session calls for it; heartbeats on after. */
  async ensure(): Promise<void> {
    for (let round = 0; this.rejoinNeeded; round++) {
      if (round > 20) throw new Error(`group ${this.groupId}: no stable assignment after ${round} rounds`);
      if (this.lost) {
        // Like onPartitionsLost: the work must be dropped; offsets can no longer be committed.
        this.stopHeartbeat();
        const lost = this.partitions.assignment();
        this.lost = false;
        this.partitions.drop(lost);
        if (lost.length > 0) await this.callListener(this.listener?.onLost ? 'onLost' : 'onRevoked', lost);
      }
      this.stopHeartbeat();
      try {
        await this.joinAndSync();
      } catch (error) {
        if (error instanceof ListenerError) throw error;
        this.noteGroupError(error);
        this.rejoinNeeded = true;
        if (!hasKafkaError(error, 'REBALANCE_IN_PROGRESS') && !hasKafkaError(error, 'UNKNOWN_MEMBER_ID') && !hasKafkaError(error, 'ILLEGAL_GENERATION')) {
          if (round >= this.settings.retries) throw error;
          await new Promise((resolve) => setTimeout(resolve, this.settings.retryBackoffMs));
        }
      }
    }
    this.startHeartbeat();
  }

  /**
   * Leaves the group: the listener's onRevoked for the partitions held (unless they were lost),
   * then LeaveGroup so the group hands them over at once rather than after the session timeout.
   */
  async leave(): Promise<void> {
    this.left = true;
    this.stopHeartbeat();
    const held = this.partitions.assignment();
    try {
      if (held.length > 0 && this.listener && !this.lost) await this.listener.onRevoked(held);
    } finally {
      this.partitions.drop(held);
      await this.coordinator.leave(this.memberId);
      await this.coordinator.close();
    }
  }

  private async callListener(method: 'onAssigned' | 'onRevoked' | 'onLost', partitions: TopicPartition[]): Promise<void> {
    try {
      await this.listener![method]?.(partitions);
    } catch (error) {
      throw new ListenerError(error);
    }
  }

  private async joinAndSync(): Promise<void> {
    const joined = await this.coordinator.join(this.memberId, encodeSubscription({ topics: this.topics, owned: this.partitions.assignment() }));
    this.memberId = joined.memberId;
    this.generationId = joined.generationId;

    let assignments: { memberId: string; assignment: Buffer }[] = [];
    if (joined.leader === this.memberId) {
      const members = new Map<string, Subscription>();
      for (const member of joined.members) members.set(member.memberId, decodeSubscription(member.metadata));
      const topics = [...new Set([...members.values()].flatMap((s) => s.topics))];
      const metadata = await this.settings.admin.metadata({ topics, forceUpdate: true });
      const counts = new Map<string, number>();
      for (const topic of topics) {
        const info = metadata.topics.get(topic);
        if (info) counts.set(topic, info.partitionsCount);
      }
      assignments = [...assignCooperative(members, counts)].map(([memberId, partitions]) => ({ memberId, assignment: encodeAssignment(partitions) }));
    }
    const syncSent = performance.now();
    const assigned = decodeAssignment(await this.coordinator.sync(this.generationId, this.memberId, assignments));
    this.sessionConfirmedAt = syncSent;
    // A loss noted while this join ran came from an answer about the generation before it (a
    // heartbeat sent while onLost waited): this membership is new, and holds.
    this.lost = false;
    this.rejoinNeeded = false;
    this.settings.metrics?.rebalanced(this.groupId);
    // Heartbeats go on while the listener works (a restore in onAssigned can outlast the session).
    this.startHeartbeat();

    try {
      await this.applyAssignment(assigned);
    } catch (error) {
      // Whatever did not complete (e.g. committed offsets unreadable while a dead member's
      // transaction is still open) is retried by joining again on the next poll.
      this.rejoinNeeded = true;
      throw error;
    }
  }

  private async applyAssignment(assigned: TopicPartition[]): Promise<void> {
    const assignedKeys = new Set(assigned.map(partitionKey));
    const revoked = this.partitions.assignment().filter((tp) => !assignedKeys.has(partitionKey(tp)));
    const added = assigned.filter((tp) => !this.partitions.owns(tp));
    if (revoked.length > 0) {
      // Still a member of this generation, so the listener's commits are accepted.
      await this.callListener('onRevoked', revoked);
      this.partitions.drop(revoked);
      // Cooperative protocol: give them up, then rejoin so they can go to their new owner.
      this.rejoinNeeded = true;
    }
    if (added.length > 0) {
      await this.partitions.assign(added);
      await this.callListener('onAssigned', added);
    }
  }

  private startHeartbeat(): void {
    if (this.heartbeat || this.left) return;
    this.heartbeat = setInterval(() => void this.beat(), this.settings.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private async beat(): Promise<void> {
    // No member id: the session is gone and the next poll rejoins; a heartbeat cannot help.
    if (this.heartbeatInFlight || !this.coordinator.known || this.generationId < 0 || this.memberId === '') return;
    this.heartbeatInFlight = true;
    try {
      await this.heartbeatNow();
    } catch {
      // heartbeatNow noted what the error means; the next beat tries again.
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  /** One heartbeat of the current membership; an answer confirms the session from when it was sent. */
  private async heartbeatNow(): Promise<void> {
    const { generationId, memberId } = this;
    const sent = performance.now();
    try {
      await this.coordinator.heartbeat(generationId, memberId);
      if (generationId === this.generationId && memberId === this.memberId && !this.lost) this.sessionConfirmedAt = Math.max(this.sessionConfirmedAt, sent);
    } catch (error) {
      // An answer about a membership this consumer has already left (it rejoined while the
      // heartbeat was out) says nothing about the current one: acting on it would declare the
      // fresh assignment lost and close every task again.
      if (generationId === this.generationId && memberId === this.memberId) this.noteGroupError(error);
      this.coordinator.forgetIfDisconnected();
      throw error;
    }
  }
}

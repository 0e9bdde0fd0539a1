import type { Logger } from 'pino';
import { Consumer, type Admin } from '@platformatic/kafka';
import { partitionKey, type ConsumerOptions, type LogConsumer, type LogRecord, type RebalanceListener, type TopicPartition, type TopicPartitionOffset } from '../Log.js';
import { assignCooperative, decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription, type Subscription } from './cooperative-assignor.js';
import { GroupCoordinator } from './GroupCoordinator.js';
import { EARLIEST, LATEST, listPartitionOffsets, startingOffsets } from './kafka-offsets.js';
import { decodeFetchedPartition, hasKafkaError } from './kafka-records.js';
import type { KafkaLogMetrics } from './KafkaLogMetrics.js';
import type { KafkaClientSecurity } from './kafka-security.js';

/** Wraps an error thrown by the RebalanceListener so poll() rethrows it instead of retrying. */
class ListenerError extends Error {
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

export interface KafkaConsumerSettings {
  clientId: string;
  brokers: string[];
  admin: Admin;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  logger?: Logger;
  metrics?: KafkaLogMetrics;
  /** TLS / SASL options (kafka-security.ts) for the fetcher and the coordinator connection. */
  security?: KafkaClientSecurity;
}

const READ_COMMITTED = 1;
/** Longest single fetch wait, so a rebalance or pause is noticed between fetches. */
const MAX_FETCH_WAIT_MS = 250;

/**
 * A consumer-group member on the classic group protocol, driven from poll() like Kafka's Java
 * consumer: joins and rebalances happen inside poll, the listener runs before records of new
 * partitions are returned, and a background heartbeat only flags that a rebalance is due.
 * Rebalancing is cooperative (see cooperative-assignor.ts). Offsets are never auto-committed.
 * Fetches are read_committed.
 */
export class KafkaConsumer implements LogConsumer {
  readonly groupId: string;
  private readonly reset: 'earliest' | 'latest';
  private readonly fetcher: Consumer;
  private readonly coordinator: GroupCoordinator;
  private memberId = '';
  private generationId = -1;
  private topics: string[] = [];
  private listener: RebalanceListener | undefined;
  private readonly owned = new Map<string, TopicPartition>();
  private readonly positions = new Map<string, number>();
  private readonly buffered = new Map<string, LogRecord[]>();
  private readonly paused = new Set<string>();
  private rejoinNeeded = false;
  private lost = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private heartbeatInFlight = false;
  private closed = false;
  private polling: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly settings: KafkaConsumerSettings,
    options: ConsumerOptions,
  ) {
    this.groupId = options.groupId;
    this.reset = options.autoOffsetReset ?? 'earliest';
    this.coordinator = new GroupCoordinator(options.groupId, settings);
    this.fetcher = new Consumer({
      ...settings.security,
      clientId: `${settings.clientId}-fetch`,
      bootstrapBrokers: settings.brokers,
      groupId: options.groupId,
      autocommit: false,
      isolationLevel: READ_COMMITTED,
      connectTimeout: settings.connectTimeoutMs,
      timeout: settings.requestTimeoutMs + MAX_FETCH_WAIT_MS,
      retries: settings.retries,
      retryDelay: settings.retryBackoffMs,
    });
  }

  async subscribe(topics: string[], listener: RebalanceListener): Promise<void> {
    this.topics = [...new Set(topics)].sort();
    this.listener = listener;
    this.rejoinNeeded = true;
  }

  poll(maxRecords: number, timeoutMs: number): Promise<LogRecord[]> {
    // One poll at a time: rebalance callbacks and positions are not safe to interleave.
    const run = this.polling.then(() => this.pollOnce(maxRecords, timeoutMs));
    this.polling = run.catch(() => undefined);
    return run;
  }

  private async pollOnce(maxRecords: number, timeoutMs: number): Promise<LogRecord[]> {
    if (this.closed) throw new Error(`consumer of group ${this.groupId} is closed`);
    if (!this.listener) throw new Error('poll() before subscribe()');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.ensureMembership();
        const ready = this.takeBuffered(maxRecords);
        if (ready.length > 0) return ready;
        const remaining = deadline - Date.now();
        if (remaining <= 0) return [];
        await this.fetchOnce(Math.min(remaining, MAX_FETCH_WAIT_MS));
        if (this.lastError !== undefined) {
          this.lastError = undefined;
          this.settings.logger?.info({ groupId: this.groupId }, 'kafka consumer: broker reachable again');
        }
        if (this.takeBufferedCount() > 0) continue;
        if (Date.now() >= deadline) return [];
      } catch (error) {
        // The listener's own failures are the caller's to handle.
        if (error instanceof ListenerError) throw error.cause;
        // Broker or coordinator unreachable: like Kafka's consumer, keep trying within this poll
        // and return nothing rather than fail; membership is re-established when it answers.
        this.noteGroupError(error);
        this.coordinator.forgetIfDisconnected();
        this.fetcher.clearMetadata();
        this.settings.metrics?.pollFailed(this.groupId);
        if (this.lastError === undefined) {
          this.settings.logger?.warn({ err: error, groupId: this.groupId }, 'kafka consumer: poll failed, retrying until the broker answers');
        }
        this.lastError = error;
        const remaining = deadline - Date.now();
        if (remaining <= 0) return [];
        await new Promise((resolve) => setTimeout(resolve, Math.min(remaining, this.settings.retryBackoffMs)));
      }
    }
  }

  /** The last error a poll swallowed while the broker was unreachable (for health reporting). */
  lastError: unknown;

  private async callListener(method: 'onAssigned' | 'onRevoked' | 'onLost', partitions: TopicPartition[]): Promise<void> {
    try {
      await this.listener![method]?.(partitions);
    } catch (error) {
      throw new ListenerError(error);
    }
  }

  seek(tp: TopicPartition, offset: number): void {
    const key = partitionKey(tp);
    this.positions.set(key, offset);
    this.buffered.delete(key);
  }

  pause(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.paused.add(partitionKey(tp));
  }

  resume(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.paused.delete(partitionKey(tp));
  }

  assignment(): TopicPartition[] {
    return [...this.owned.values()];
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

  async commitOffsets(offsets: TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    try {
      await this.coordinator.commit(this.generationId, this.memberId, offsets);
    } catch (error) {
      this.noteGroupError(error);
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.polling;
    this.closed = true;
    this.stopHeartbeat();
    try {
      if (this.owned.size > 0 && this.listener && !this.lost) await this.listener.onRevoked(this.assignment());
    } finally {
      this.owned.clear();
      await this.coordinator.leave(this.memberId);
      await this.coordinator.close();
      await this.fetcher.close().catch(() => undefined);
    }
  }

  // ---- group membership ------------------------------------------------------------------

  /** Records what a group error means for membership; the next poll acts on it. */
  private noteGroupError(error: unknown): void {
    if (hasKafkaError(error, 'REBALANCE_IN_PROGRESS')) this.rejoinNeeded = true;
    if (hasKafkaError(error, 'UNKNOWN_MEMBER_ID') || hasKafkaError(error, 'ILLEGAL_GENERATION') || hasKafkaError(error, 'FENCED_INSTANCE_ID')) {
      // Out of the group (session timed out): the partitions may already be someone else's.
      this.lost = true;
      this.rejoinNeeded = true;
      if (hasKafkaError(error, 'UNKNOWN_MEMBER_ID')) this.memberId = '';
    }
    if (hasKafkaError(error, 'NOT_COORDINATOR') || hasKafkaError(error, 'COORDINATOR_NOT_AVAILABLE')) this.coordinator.forget();
  }

  private async ensureMembership(): Promise<void> {
    for (let round = 0; this.rejoinNeeded; round++) {
      if (round > 20) throw new Error(`group ${this.groupId}: no stable assignment after ${round} rounds`);
      if (this.lost) {
        // Like onPartitionsLost: the work must be dropped; offsets can no longer be committed.
        const lost = this.assignment();
        this.lost = false;
        this.dropPartitions(lost);
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

  private async joinAndSync(): Promise<void> {
    const joined = await this.coordinator.join(this.memberId, encodeSubscription({ topics: this.topics, owned: this.assignment() }));
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
    const assigned = decodeAssignment(await this.coordinator.sync(this.generationId, this.memberId, assignments));
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
    const revoked = this.assignment().filter((tp) => !assignedKeys.has(partitionKey(tp)));
    const added = assigned.filter((tp) => !this.owned.has(partitionKey(tp)));
    if (revoked.length > 0) {
      // Still a member of this generation, so the listener's commits are accepted.
      await this.callListener('onRevoked', revoked);
      this.dropPartitions(revoked);
      // Cooperative protocol: give them up, then rejoin so they can go to their new owner.
      this.rejoinNeeded = true;
    }
    if (added.length > 0) {
      const starts = await startingOffsets(this.settings.admin, this.fetcher, this.groupId, added, this.reset);
      for (const [key, offset] of starts) this.positions.set(key, offset);
      for (const tp of added) this.owned.set(partitionKey(tp), tp);
      await this.callListener('onAssigned', added);
    }
  }

  private dropPartitions(partitions: TopicPartition[]): void {
    for (const tp of partitions) {
      const key = partitionKey(tp);
      this.owned.delete(key);
      this.positions.delete(key);
      this.buffered.delete(key);
      this.paused.delete(key);
    }
  }

  private startHeartbeat(): void {
    if (this.heartbeat || this.closed) return;
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
    const { generationId, memberId } = this;
    try {
      await this.coordinator.heartbeat(generationId, memberId);
    } catch (error) {
      // An answer about a membership this consumer has already left (it rejoined while the
      // heartbeat was out) says nothing about the current one: acting on it would declare the
      // fresh assignment lost and close every task again.
      if (generationId === this.generationId && memberId === this.memberId) this.noteGroupError(error);
      this.coordinator.forgetIfDisconnected();
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  // ---- fetching ----------------------------------------------------------------------------

  private takeBufferedCount(): number {
    let count = 0;
    for (const [key, records] of this.buffered) if (!this.paused.has(key) && this.owned.has(key)) count += records.length;
    return count;
  }

  position(tp: TopicPartition): number | undefined {
    const key = partitionKey(tp);
    if (!this.owned.has(key)) return undefined;
    // Fetched but not yet returned: the position is the first record still held here.
    const held = this.buffered.get(key);
    return held && held.length > 0 ? held[0]!.offset : this.positions.get(key);
  }

  private takeBuffered(maxRecords: number): LogRecord[] {
    const out: LogRecord[] = [];
    for (const [key, records] of this.buffered) {
      if (out.length >= maxRecords) break;
      if (this.paused.has(key) || !this.owned.has(key)) continue;
      const taken = records.splice(0, maxRecords - out.length);
      out.push(...taken);
      if (records.length === 0) this.buffered.delete(key);
    }
    return out;
  }

  /** One fetch round over the owned, unpaused partitions that have nothing buffered. */
  private async fetchOnce(waitMs: number): Promise<void> {
    const wanted = this.assignment().filter((tp) => {
      const key = partitionKey(tp);
      return !this.paused.has(key) && !this.buffered.has(key) && this.positions.has(key);
    });
    if (wanted.length === 0) {
      // Nothing to fetch (all paused): wait like a fetch would, then let poll re-check.
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      return;
    }
    const metadata = await this.fetcher.metadata({ topics: [...new Set(wanted.map((tp) => tp.topic))] });
    const byLeader = new Map<number, Map<string, { topicId: string; topic: string; partitions: number[] }>>();
    for (const tp of wanted) {
      const info = metadata.topics.get(tp.topic);
      const leader = info?.partitions[tp.partition]?.leader;
      if (!info || leader === undefined || leader < 0) continue;
      const topics = byLeader.get(leader) ?? new Map();
      const entry = topics.get(tp.topic) ?? { topicId: info.id, topic: tp.topic, partitions: [] };
      entry.partitions.push(tp.partition);
      topics.set(tp.topic, entry);
      byLeader.set(leader, topics);
    }
    await Promise.all(
      [...byLeader].map(async ([node, topics]) => {
        const request = [...topics.values()];
        let response;
        try {
          response = await this.fetcher.fetch({
            node,
            maxWaitTime: waitMs,
            minBytes: 1,
            maxBytes: 8 * 1024 * 1024,
            isolationLevel: READ_COMMITTED,
            topics: request.map(({ topicId, topic, partitions }) => ({
              topicId,
              partitions: partitions.map((partition) => ({
                partition,
                fetchOffset: BigInt(this.positions.get(`${topic}:${partition}`) ?? 0),
                partitionMaxBytes: 1024 * 1024,
                currentLeaderEpoch: -1,
                lastFetchedEpoch: -1,
              })),
            })),
          });
        } catch (error) {
          if (hasKafkaError(error, 'OFFSET_OUT_OF_RANGE')) await this.resetOutOfRange(request.flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition }))));
          else throw error;
          return;
        }
        const topicById = new Map(request.map((entry) => [entry.topicId, entry.topic]));
        for (const topicResponse of response.responses) {
          const topic = topicById.get(topicResponse.topicId);
          if (!topic) continue;
          for (const partitionResponse of topicResponse.partitions) {
            const key = `${topic}:${partitionResponse.partitionIndex}`;
            const position = this.positions.get(key);
            // Revoked, sought or paused while the fetch was out: drop what it brought.
            if (position === undefined || !this.owned.has(key) || this.buffered.has(key)) continue;
            const { records, nextOffset } = decodeFetchedPartition(topic, partitionResponse, position);
            this.positions.set(key, nextOffset);
            if (records.length > 0) this.buffered.set(key, records);
          }
        }
      }),
    );
  }

  private async resetOutOfRange(partitions: TopicPartition[]): Promise<void> {
    const offsets = await listPartitionOffsets(this.fetcher, partitions, this.reset === 'earliest' ? EARLIEST : LATEST);
    for (const [key, offset] of offsets) if (this.positions.has(key)) this.positions.set(key, offset);
  }
}

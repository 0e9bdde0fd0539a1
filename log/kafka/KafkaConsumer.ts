import type { Logger } from 'pino';
import type { ConsumerOptions, LogConsumer, LogRecord, RebalanceListener, SessionLease, TopicPartition, TopicPartitionOffset } from '../Log.js';
import { GroupMembership, ListenerError, type GroupMembershipSettings, type GroupMetadata } from './GroupMembership.js';
import { MAX_FETCH_WAIT_MS, PartitionFetcher, type PartitionFetcherSettings } from './PartitionFetcher.js';

export interface KafkaConsumerSettings extends GroupMembershipSettings, PartitionFetcherSettings {
  logger?: Logger;
}

/**
 * A consumer-group member on the classic group protocol, driven from poll() like Kafka's Java
 * consumer: joins and rebalances happen inside poll (GroupMembership, Kafka's ConsumerCoordinator),
 * the listener runs before records of new partitions are returned, and the records come from the
 * assigned partitions' fetches (PartitionFetcher, Kafka's Fetcher). Rebalancing is cooperative
 * (see CooperativeAssignor.ts). Offsets are never auto-committed. Fetches are read_committed.
 */
export class KafkaConsumer implements LogConsumer {
  readonly groupId: string;
  private readonly fetcher: PartitionFetcher;
  private readonly membership: GroupMembership;
  private closed = false;
  private polling: Promise<unknown> = Promise.resolve();
  /** The last error a poll swallowed while the broker was unreachable (for health reporting). */
  lastError: unknown;

  constructor(
    private readonly settings: KafkaConsumerSettings,
    options: ConsumerOptions,
  ) {
    this.groupId = options.groupId;
    this.fetcher = new PartitionFetcher(settings, options.groupId, options.autoOffsetReset ?? 'earliest');
    this.membership = new GroupMembership(options.groupId, settings, this.fetcher);
  }

  async subscribe(topics: string[], listener: RebalanceListener): Promise<void> {
    this.membership.subscribe(topics, listener);
  }

  poll(maxRecords: number, timeoutMs: number): Promise<LogRecord[]> {
    // One poll at a time: rebalance callbacks and positions are not safe to interleave.
    const run = this.polling.then(() => this.pollOnce(maxRecords, timeoutMs));
    this.polling = run.catch(() => undefined);
    return run;
  }

  private async pollOnce(maxRecords: number, timeoutMs: number): Promise<LogRecord[]> {
    if (this.closed) throw new Error(`consumer of group ${this.groupId} is closed`);
    if (!this.membership.subscribed) throw new Error('poll() before subscribe()');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.membership.ensure();
        const ready = this.fetcher.takeBuffered(maxRecords);
        if (ready.length > 0) return ready;
        const remaining = deadline - Date.now();
        if (remaining <= 0) return [];
        await this.fetcher.fetchOnce(Math.min(remaining, MAX_FETCH_WAIT_MS));
        if (this.lastError !== undefined) {
          this.lastError = undefined;
          this.settings.logger?.info({ groupId: this.groupId }, 'kafka consumer: broker reachable again');
        }
        if (this.fetcher.bufferedCount() > 0) continue;
        if (Date.now() >= deadline) return [];
      } catch (error) {
        // The listener's own failures are the caller's to handle.
        if (error instanceof ListenerError) throw error.cause;
        // Broker or coordinator unreachable: like Kafka's consumer, keep trying within this poll
        // and return nothing rather than fail; membership is re-established when it answers.
        this.membership.noteGroupError(error);
        this.membership.forgetIfDisconnected();
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

  seek(tp: TopicPartition, offset: number): void {
    this.fetcher.seek(tp, offset);
  }

  pause(partitions: TopicPartition[]): void {
    this.fetcher.pause(partitions);
  }

  resume(partitions: TopicPartition[]): void {
    this.fetcher.resume(partitions);
  }

  assignment(): TopicPartition[] {
    return this.fetcher.assignment();
  }

  position(tp: TopicPartition): number | undefined {
    return this.fetcher.position(tp);
  }

  sessionLease(options?: { fresh?: boolean }): Promise<SessionLease> {
    return this.membership.sessionLease(options);
  }

  /** This member's group identity, for a transaction's offset commit (see GroupMembership). */
  groupMetadata(): Promise<GroupMetadata> {
    return this.membership.groupMetadata();
  }

  async commitOffsets(offsets: TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.membership.commit(offsets);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.polling;
    this.closed = true;
    try {
      await this.membership.leave();
    } finally {
      await this.fetcher.close();
    }
  }
}

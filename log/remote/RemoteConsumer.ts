import {
  partitionKey,
  type ConsumerOptions,
  type LogConsumer,
  type LogRecord,
  type RebalanceListener,
  type TopicPartition,
  type TopicPartitionOffset,
} from '../Log.js';
import type { ConsumerState, RebalanceKind } from './RemoteProtocol.js';
import type { RemoteChannel } from './RemoteChannel.js';
import { unpackLogRecords } from './RecordPacking.js';

interface PendingSeek {
  seq: number;
  key: string;
  offset: number;
}

/**
 * A consumer of the served log, used from another thread. The real consumer lives in the
 * server's thread; this side keeps a mirror of its assignment and positions, refreshed by every
 * poll, subscribe and rebalance callback, so assignment() and position() answer synchronously.
 * seek/pause/resume are sent without waiting; a seek the server has not applied yet still shows
 * in position() (the server's state carries the last seek it applied).
 */
export class RemoteConsumer implements LogConsumer {
  readonly groupId: string;
  private listener: RebalanceListener | null = null;
  private assigned: TopicPartition[] = [];
  private assignedKeys = new Set<string>();
  private positions = new Map<string, number>();
  private pendingSeeks: PendingSeek[] = [];
  private castSeq = 0;
  private closed = false;

  constructor(
    private readonly channel: RemoteChannel,
    readonly id: number,
    options: ConsumerOptions,
    private readonly onClosed: (consumer: RemoteConsumer) => void,
  ) {
    if (!options.groupId) throw new Error('groupId is required');
    this.groupId = options.groupId;
    // Reported, if it fails, by this consumer's next call (the server keeps the error).
    channel.call('consumerCreate', [id, options]).catch(() => undefined);
  }

  /** Whether this consumer was created through that channel (sendOffsets checks it). */
  usesChannel(channel: RemoteChannel): boolean {
    return this.channel === channel;
  }

  async subscribe(topics: string[], listener: RebalanceListener): Promise<void> {
    this.assertUsable();
    // Set first: a callback for re-subscribed topics arrives before the call returns.
    const previous = this.listener;
    this.listener = listener;
    try {
      this.applyState(await this.channel.call('consumerSubscribe', [this.id, topics]));
    } catch (error) {
      this.listener = previous;
      throw error;
    }
  }

  async poll(maxRecords: number, timeoutMs: number): Promise<LogRecord[]> {
    this.assertUsable();
    const { records, state } = await this.channel.call('consumerPoll', [this.id, maxRecords, timeoutMs]);
    this.applyState(state);
    return unpackLogRecords(records);
  }

  seek(tp: TopicPartition, offset: number): void {
    this.assertUsable();
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`invalid offset ${offset}`);
    const key = partitionKey(tp);
    if (!this.assignedKeys.has(key)) throw new Error(`seek on unassigned partition ${key}`);
    const seq = ++this.castSeq;
    this.channel.cast('consumerSeek', [this.id, seq, { topic: tp.topic, partition: tp.partition }, offset]);
    this.pendingSeeks.push({ seq, key, offset });
    this.positions.set(key, offset);
  }

  pause(partitions: TopicPartition[]): void {
    this.channel.cast('consumerPause', [this.id, ++this.castSeq, partitions.map(copyTp)]);
  }

  resume(partitions: TopicPartition[]): void {
    this.channel.cast('consumerResume', [this.id, ++this.castSeq, partitions.map(copyTp)]);
  }

  assignment(): TopicPartition[] {
    return this.assigned.map(copyTp);
  }

  position(tp: TopicPartition): number | undefined {
    const key = partitionKey(tp);
    return this.assignedKeys.has(key) ? this.positions.get(key) : undefined;
  }

  async commitOffsets(offsets: TopicPartitionOffset[]): Promise<void> {
    this.assertUsable();
    await this.channel.call('consumerCommit', [this.id, offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset }))]);
  }

  /** Runs onRevoked (in the server's close) like a local consumer; resolves if the server is already gone. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.channel.isOpen) await this.channel.call('consumerClose', [this.id]);
    } catch (error) {
      if (this.channel.isOpen) throw error;
    } finally {
      this.assigned = [];
      this.assignedKeys.clear();
      this.positions.clear();
      this.onClosed(this);
    }
  }

  /** A rebalance callback from the server: mirror its state, then run the listener here. */
  async runListener(kind: RebalanceKind, partitions: TopicPartition[], state: ConsumerState): Promise<void> {
    this.applyState(state);
    const listener = this.listener;
    if (!listener) return;
    if (kind === 'assigned') await listener.onAssigned(partitions);
    // A listener without onLost gets onRevoked, as the Log interface documents.
    else if (kind === 'lost' && listener.onLost) await listener.onLost(partitions);
    else await listener.onRevoked(partitions);
  }

  private applyState(state: ConsumerState): void {
    this.assigned = state.assignment;
    this.assignedKeys = new Set(state.assignment.map(partitionKey));
    this.positions = new Map(state.positions);
    if (this.pendingSeeks.length === 0) return;
    // Seeks the server had not applied when it took this state still hold.
    this.pendingSeeks = this.pendingSeeks.filter((s) => s.seq > state.appliedCastSeq);
    for (const s of this.pendingSeeks) if (this.assignedKeys.has(s.key)) this.positions.set(s.key, s.offset);
  }

  private assertUsable(): void {
    if (this.closed) throw new Error(`consumer of group "${this.groupId}" is closed`);
  }
}

function copyTp(tp: TopicPartition): TopicPartition {
  return { topic: tp.topic, partition: tp.partition };
}

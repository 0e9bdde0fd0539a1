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
import type { PendingOffset } from './GroupCommitWriter.js';
import type { PartitionState, TopicCatalog } from './TopicCatalog.js';

/** What a consumer needs from its EmbeddedLog. */
export interface ConsumerHost {
  readonly catalog: TopicCatalog;
  readonly signal: AppendSignal;
  readPartition(ps: PartitionState, fromOffset: number, maxRecords: number): LogRecord[];
  committedOffset(groupId: string, ps: PartitionState): number | undefined;
  commit(offsets: PendingOffset[]): Promise<void>;
  assertOpen(): void;
  /** Embedded mode has one member per group: claims the group or throws if another member holds it. */
  joinGroup(consumer: EmbeddedConsumer): void;
  leaveGroup(consumer: EmbeddedConsumer): void;
}

/**
 * The single member of its group in this process: subscribe() assigns it every partition of the
 * topics (topics created later are picked up by the next poll). A second live member of the same
 * group is refused rather than silently sharing partitions: embedded mode has no group coordinator.
 *
 * Rebalance callbacks run inside poll() as in Kafka: onAssigned before the first records of new
 * partitions; onRevoked on re-subscribe (for dropped topics) and on close().
 */
export class EmbeddedConsumer implements LogConsumer {
  readonly groupId: string;
  private readonly autoOffsetReset: 'earliest' | 'latest';
  private topics: string[] = [];
  private listener: RebalanceListener | null = null;
  private readonly assigned = new Map<string, PartitionState>();
  /** Next offset to return per assigned partition; absent until first fetched or seeked. */
  private readonly positions = new Map<string, number>();
  private readonly paused = new Set<string>();
  private cursor = 0;
  private polling = false;
  private closed = false;
  private wakeWaiter: (() => void) | null = null;

  constructor(
    private readonly host: ConsumerHost,
    options: ConsumerOptions,
  ) {
    if (!options.groupId) throw new Error('groupId is required');
    this.groupId = options.groupId;
    this.autoOffsetReset = options.autoOffsetReset ?? 'earliest';
  }

  async subscribe(topics: string[], listener: RebalanceListener): Promise<void> {
    this.assertUsable();
    this.host.joinGroup(this);
    const keep = new Set(topics);
    const revoked = [...this.assigned.values()].filter((ps) => !keep.has(ps.topic));
    if (revoked.length > 0 && this.listener) await this.listener.onRevoked(revoked.map(toTp));
    for (const ps of revoked) this.forget(ps);
    this.topics = [...keep];
    this.listener = listener;
  }

  /** Assigns partitions of subscribed topics that exist now and are not assigned yet. */
  private async refreshAssignment(): Promise<void> {
    if (!this.listener) return;
    const added: PartitionState[] = [];
    for (const name of this.topics) {
      const topic = this.host.catalog.get(name);
      if (!topic) continue;
      for (const ps of topic.partitions) {
        const key = partitionKey(ps);
        if (!this.assigned.has(key)) {
          this.assigned.set(key, ps);
          added.push(ps);
        }
      }
    }
    if (added.length > 0) await this.listener.onAssigned(added.map(toTp));
  }

  async poll(maxRecords: number, timeoutMs: number): Promise<LogRecord[]> {
    this.assertUsable();
    if (this.polling) throw new Error('poll() is already in progress on this consumer');
    if (!(maxRecords > 0)) throw new RangeError('maxRecords must be positive');
    this.polling = true;
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await this.refreshAssignment();
        if (this.closed) return [];
        this.host.assertOpen();
        const records = this.fetch(maxRecords);
        if (records.length > 0) return records;
        const remaining = deadline - Date.now();
        if (remaining <= 0) return [];
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
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeWaiter?.();
    try {
      if (this.listener && this.assigned.size > 0) await this.listener.onRevoked(this.assignment());
    } finally {
      this.assigned.clear();
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

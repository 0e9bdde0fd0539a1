import { jsonSerde, stringSerde } from '../state/Serde.js';
import { getMany, type KeyValueStore } from '../state/StateStore.js';
import { keyValueStore } from '../state/Stores.js';
import { type KStream, type Processor, type ProcessorContext, type StreamRecord, type TimeWindows } from '../topology/index.js';
import type { AggregatorSpec } from './AggregationSpecs.js';
import { purgeSeen, seenKey } from './DistinctMarker.js';
import type { LearningEvent } from './LandingEvent.js';
import { bucketOf, firstWindowOf, type PartialAggregate } from './PartialAggregate.js';

/** The node's stream time in its store (window-start keys are digits: never in a purge range). */
const STREAM_TIME_KEY = '~stream-time';

interface OpenPartial<A> {
  key: string;
  partial: PartialAggregate<A>;
  /** The largest timestamp of its events: the record's timestamp. */
  timestamp: number;
  /** Members already counted in this partial: a repeat costs a set lookup, not a store read. */
  members: Set<string> | undefined;
}

/** The open partials of one bucket and first window, by group key. */
interface OpenSlot<A> {
  bucket: number;
  first: number;
  byKey: Map<string, OpenPartial<A>>;
}

/**
 * Pre-aggregation before a repartition topic (Kafka Streams has none; Flink's local-global
 * aggregation is the model): per commit interval, the task folds its events into one partial
 * aggregate per group key and bucket (PartialAggregate) in memory, and at the commit
 * (beforeCommit: in the commit's transaction, with the input offsets) forwards one record per
 * partial instead of one per event. A crash before that commit replays the input and rebuilds
 * the same partials, so exactly-once holds; the merging node after the repartition folds each
 * partial into its windows (PartialMerger).
 *
 * Lateness is judged here, per event, by this node's stream time (the largest timestamp of the
 * records reaching it, kept in its store so a restart judges as before): a window is closed
 * once stream time >= window end + grace, and an event is counted `late` when a window that
 * contains it is closed; it still goes into the windows that are open. Every partition of the
 * input judges its own events, deterministically: not by how far another partition has run.
 *
 * Distinct members (unique users) are counted here too, exactly: the member is the stream key
 * (AggregatorSpec.distinctMemberIsStreamKey), so all of a member's events reach this task, and
 * the seen-set is purged by the same stream time that closes windows (no event of a purged
 * window can still be accepted). The partial carries how many members were first in the window.
 *
 * @example
 *   selected.process(() => new PreAggregator(spec, windows, 'agg-x-partial'), { name: 'x-preaggregate', stores: ['agg-x-partial'] }).repartition(...)
 */
export class PreAggregator<P, A> implements Processor<string, LearningEvent, string, PartialAggregate<A>> {
  private context!: ProcessorContext<string, PartialAggregate<A>>;
  private store!: KeyValueStore<string, number>;
  // Partials are found by bucket, first window, then group key, not by one joined string id:
  // that id cost two number-to-string conversions, a concatenation and its hashing per event
  // per aggregator (~200 bytes of garbage each). A commit interval's events fall in a few
  // buckets, so the last slot used nearly always answers.
  private readonly slotsByBucket = new Map<number, OpenSlot<A>[]>();
  private lastSlot: OpenSlot<A> | undefined;
  /** Every open partial, in the order opened: the order beforeCommit forwards them in. */
  private readonly opened: OpenPartial<A>[] = [];
  /** Members first seen by their partial in this interval (its seen key beside it), looked up at the commit. */
  private readonly unresolved: OpenPartial<A>[] = [];
  private readonly unresolvedKeys: string[] = [];
  private streamTime = Number.NEGATIVE_INFINITY;
  private persistedStreamTime = Number.NEGATIVE_INFINITY;
  /** Seen-set windows up to here are purged; 0 after a (re)start. */
  private purgedUpTo = 0;

  constructor(
    private readonly spec: AggregatorSpec<P, A>,
    private readonly windows: TimeWindows,
    private readonly storeName: string,
  ) {}

  init(context: ProcessorContext<string, PartialAggregate<A>>): void {
    this.context = context;
    this.store = context.getStateStore(this.storeName);
    this.streamTime = this.persistedStreamTime = this.store.get(STREAM_TIME_KEY) ?? Number.NEGATIVE_INFINITY;
  }

  process(record: StreamRecord<string, LearningEvent>): void {
    const timestamp = record.timestamp;
    if (timestamp > this.streamTime) this.streamTime = timestamp;
    const { sizeMs, advanceMs, graceMs } = this.windows;
    const bucket = bucketOf(this.windows, timestamp);
    // The oldest window still open: windows close oldest first (end + grace <= stream time).
    let first = firstWindowOf(this.windows, bucket);
    const oldest = first;
    while (first <= bucket && first + sizeMs + graceMs <= this.streamTime) first += advanceMs;
    if (first !== oldest) this.context.count('late');
    if (first > bucket) return;

    const key = this.spec.keyOf!(record.value);
    const projection = this.spec.project(record.value);
    const slot = this.slotOf(bucket, first);
    let open = slot.byKey.get(key);
    if (open === undefined) {
      open = { key, partial: { b: bucket, f: first, a: this.spec.init(), n: 0, u: 0 }, timestamp, members: undefined };
      slot.byKey.set(key, open);
      this.opened.push(open);
    } else if (timestamp > open.timestamp) {
      open.timestamp = timestamp;
    }
    const partial = open.partial;
    partial.a = this.spec.add(partial.a, projection, false);
    partial.n++;
    if (this.spec.distinctMember) this.countMember(open, first, this.spec.distinctMember(projection));
  }

  private slotOf(bucket: number, first: number): OpenSlot<A> {
    const last = this.lastSlot;
    if (last !== undefined && last.bucket === bucket && last.first === first) return last;
    let slots = this.slotsByBucket.get(bucket);
    if (slots === undefined) this.slotsByBucket.set(bucket, (slots = []));
    let slot = slots.find((candidate) => candidate.first === first);
    if (slot === undefined) slots.push((slot = { bucket, first, byKey: new Map() }));
    return (this.lastSlot = slot);
  }

  private dropOpen(): void {
    this.slotsByBucket.clear();
    this.lastSlot = undefined;
    this.opened.length = 0;
    this.unresolved.length = 0;
    this.unresolvedKeys.length = 0;
  }

  /**
   * Tumbling windows only (preAggregates): the bucket is the window, first its start. A member
   * new to the partial is looked up in the store at the commit (resolveMembers), with the others
   * of the interval in one multi-get: the partial's count is not read before then.
   */
  private countMember(open: OpenPartial<A>, windowStart: number, member: string | undefined): void {
    if (member === undefined) return;
    if (open.members === undefined) open.members = new Set();
    else if (open.members.has(member)) return;
    open.members.add(member);
    this.unresolved.push(open);
    this.unresolvedKeys.push(seenKey(windowStart, open.key, member));
  }

  /**
   * Counts the members of this interval that no earlier interval saw, and marks them seen. Each
   * seen key is here once (one open partial per window and key, its members a set), so reading
   * them all before writing any answers as reading and writing them one at a time did.
   */
  private resolveMembers(): void {
    if (this.unresolvedKeys.length === 0) return;
    const seen = getMany(this.store, this.unresolvedKeys);
    for (let i = 0; i < seen.length; i++) {
      if (seen[i] !== undefined) continue;
      this.store.put(this.unresolvedKeys[i]!, 1);
      this.unresolved[i]!.partial.u++;
    }
    this.unresolved.length = 0;
    this.unresolvedKeys.length = 0;
  }

  /** One record per open partial, its timestamp the largest of its events, then the stream time and purge. */
  beforeCommit(): void {
    this.resolveMembers();
    for (const { key, partial, timestamp } of this.opened) this.context.forward({ key, value: partial, timestamp, headers: {} });
    this.dropOpen();
    if (this.streamTime > this.persistedStreamTime) {
      this.store.put(STREAM_TIME_KEY, this.streamTime);
      this.persistedStreamTime = this.streamTime;
      if (this.spec.distinctMember) this.purge();
    }
  }

  close(): void {
    // A task closed without a commit (lost, or rebuilt after a failed commit) drops its partials: its input is read again.
    this.dropOpen();
  }

  private purge(): void {
    const { sizeMs, graceMs, advanceMs } = this.windows;
    const closedUpTo = this.streamTime - sizeMs - graceMs;
    if (closedUpTo < 0 || Math.floor(closedUpTo / advanceMs) <= Math.floor(this.purgedUpTo / advanceMs)) return;
    purgeSeen(this.store, this.purgedUpTo, closedUpTo);
    this.purgedUpTo = closedUpTo;
  }
}

/** The pre-aggregating node and its store (stream time and seen members). */
export function preAggregate<P, A>(
  stream: KStream<string, LearningEvent>,
  options: { name: string; storeName: string; spec: AggregatorSpec<P, A>; windows: TimeWindows },
): KStream<string, PartialAggregate<A>> {
  // A member's first event in a window reads a marker that is not there: the key filter answers it.
  stream.builder.addStateStore(keyValueStore(options.storeName, stringSerde, jsonSerde<number>(), { keyFilter: true }));
  return stream.process<string, PartialAggregate<A>>(() => new PreAggregator<P, A>(options.spec, options.windows, options.storeName), {
    name: options.name,
    stores: [options.storeName],
  });
}

import { joinWindowStore, type JoinWindowStore } from '../../state/JoinWindowStore.js';
import { outerJoinStore, type LeftOrRightValue, type OuterJoinStore } from '../../state/OuterJoinStore.js';
import { jsonSerde, stringSerde, type Serde } from '../../state/Serde.js';
import type { Processor, ProcessorContext } from '../processor/Processor.js';
import type { StreamRecord } from '../processor/Record.js';
import { StatelessProcessor } from './DslProcessors.js';
import type { JoinWindows } from './JoinWindows.js';
import { KStream } from './KStream.js';
import type { Named } from './Naming.js';

/**
 * Kafka Streams' KStreamJoinWindow: passes every record on to its side's join processor (which
 * drops null keys, or for an outer side emits them unjoined), then keeps a keyed record in its
 * side's store for the other side to find.
 */
class JoinWindowProcessor<K, V> implements Processor<K, V, K, V> {
  private context!: ProcessorContext<K, V>;
  private store!: JoinWindowStore<K, V>;

  constructor(private readonly storeName: string) {}

  init(context: ProcessorContext<K, V>): void {
    this.context = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: StreamRecord<K, V>): void {
    this.context.forward(record);
    if (record.key === null || record.key === undefined) return;
    // A null value is an empty message: nothing to join with later (Kafka Streams' store ignores it).
    if (record.value !== null && record.value !== undefined) this.store.putRecord(record.key, record.value, record.timestamp);
  }
}

export type StreamJoinKind = 'inner' | 'left' | 'outer';

/** What one join processor needs to know about its side. */
interface JoinSide<V1, V2, R> {
  isLeftSide: boolean;
  /** Emits this side's records unjoined (left side of leftJoin, both sides of outerJoin). */
  outer: boolean;
  /** How far back / ahead this side looks into the other's store (swapped for the right side). */
  beforeMs: number;
  afterMs: number;
  windows: JoinWindows;
  /** The joiner as the user wrote it: (left, right). */
  joiner: (left: V1 | undefined, right: V2 | undefined) => R;
  outerStoreName?: string;
}

/**
 * One side of Kafka Streams' KStreamKStreamJoin: a record at t joins the other side's records of
 * its key with timestamps in [t - before, t + after], each result forwarded with the larger of the
 * two timestamps. With an outer-join store (leftJoin / outerJoin), a record of an outer side that
 * finds no partner waits in that store and is emitted with an undefined partner only once its
 * window has closed (stream time past t + after + grace), unless a partner arrives first; a record
 * already behind stream time by more than `after` is emitted unjoined at once. Both processors of
 * a task share the stream time of both sides through that store.
 */
class JoinSideProcessor<K, VThis, VOther, V1, V2, R> implements Processor<K, VThis, K, R> {
  private context!: ProcessorContext<K, R>;
  private other!: JoinWindowStore<K, VOther>;
  private outerStore?: OuterJoinStore<K, V1, V2>;

  constructor(
    private readonly otherStoreName: string,
    private readonly side: JoinSide<V1, V2, R>,
  ) {}

  init(context: ProcessorContext<K, R>): void {
    this.context = context;
    this.other = context.getStateStore(this.otherStoreName);
    if (this.side.outerStoreName) this.outerStore = context.getStateStore(this.side.outerStoreName);
  }

  private join(thisValue: VThis | undefined, otherValue: VOther | undefined): R {
    return this.side.isLeftSide
      ? this.side.joiner(thisValue as unknown as V1 | undefined, otherValue as unknown as V2 | undefined)
      : this.side.joiner(otherValue as unknown as V1 | undefined, thisValue as unknown as V2 | undefined);
  }

  process(record: StreamRecord<K, VThis>): void {
    const store = this.outerStore;
    store?.advanceStreamTime(record.timestamp);
    const keyless = record.key === null || record.key === undefined;
    const valueless = record.value === null || record.value === undefined;
    if (this.side.outer && keyless && !valueless) {
      this.context.count('unjoined_null_key');
      return this.context.forward({ ...record, value: this.join(record.value, undefined) });
    }
    if (keyless) return this.context.count('null_key_dropped');
    if (valueless) return this.context.count('null_value_dropped');
    if (store && record.timestamp === store.streamTime()) this.emitClosedUnjoined(store, record);
    const timeFrom = Math.max(0, record.timestamp - this.side.beforeMs);
    const timeTo = Math.max(0, record.timestamp + this.side.afterMs);
    const matches = this.other.fetchRecords(record.key, timeFrom, timeTo);
    for (const match of matches) {
      // The partner is no longer unjoined: Kafka Streams' putIfAbsent(otherKey, null) deletes it.
      const partnerKey = { timestamp: match.timestamp, isLeftSide: !this.side.isLeftSide, key: record.key };
      if (store && store.get(partnerKey) !== undefined) store.delete(partnerKey);
      this.context.forward({ key: record.key, value: this.join(record.value, match.value), timestamp: Math.max(record.timestamp, match.timestamp), headers: record.headers });
    }
    if (matches.length > 0) return;
    this.context.count('join_miss');
    if (!this.side.outer) return;
    if (!store || timeTo < store.streamTime()) return this.context.forward({ ...record, value: this.join(record.value, undefined) });
    store.minTime = Math.min(store.minTime, record.timestamp);
    const value = (this.side.isLeftSide ? { left: record.value } : { right: record.value }) as unknown as LeftOrRightValue<V1, V2>;
    store.append({ timestamp: record.timestamp, isLeftSide: this.side.isLeftSide, key: record.key }, value);
  }

  /** Kafka Streams' emitNonJoinedOuterRecords (emit interval 0): every stored record whose window has closed. */
  private emitClosedUnjoined(store: OuterJoinStore<K, V1, V2>, record: StreamRecord<K, VThis>): void {
    const streamTime = store.streamTime();
    const { windows } = this.side;
    if (store.minTime + this.side.afterMs + windows.graceMs >= streamTime) return;
    store.minTime = Number.POSITIVE_INFINITY;
    let leftOpen = false;
    let rightOpen = false;
    for (const { key, value } of store.entries()) {
      store.minTime = key.timestamp;
      if (leftOpen && rightOpen) break;
      // A left record's window closes `after` past it, a right record's `before` past it.
      const lookBack = key.isLeftSide ? windows.afterMs : windows.beforeMs;
      if (key.timestamp + lookBack + windows.graceMs >= streamTime) {
        if (key.isLeftSide) leftOpen = true;
        else rightOpen = true;
        continue;
      }
      for (const unjoined of value) {
        this.context.count('unjoined_window_closed');
        const result = key.isLeftSide ? this.side.joiner(unjoined.left, undefined) : this.side.joiner(undefined, unjoined.right);
        this.context.forward({ key: key.key, value: result, timestamp: key.timestamp, headers: record.headers });
      }
      store.delete(key);
    }
  }
}

export interface StreamJoined<K, V1, V2> extends Named {
  keySerde?: Serde<K>;
  valueSerde?: Serde<V1>;
  otherValueSerde?: Serde<V2>;
}

/**
 * KStream.join / leftJoin / outerJoin(otherStream, joiner, JoinWindows), as KStreamImplJoin builds
 * it: a window node and a join node per side, a shared outer-join store for leftJoin / outerJoin.
 */
export function streamStreamJoin<K, V1, V2, R>(
  left: KStream<K, V1>,
  right: KStream<K, V2>,
  joiner: (left: V1 | undefined, right: V2 | undefined) => R,
  windows: JoinWindows,
  joined: StreamJoined<K, V1, V2> = {},
  kind: StreamJoinKind = 'inner',
): KStream<K, R> {
  const builder = left.builder;
  const thisStream = left.repartitionRequired ? left.repartition() : left;
  const otherStream = right.repartitionRequired ? right.repartition() : right;
  const base = joined.name ?? builder.names.next(kind === 'inner' ? 'KSTREAM-JOIN' : kind === 'left' ? 'KSTREAM-LEFTJOIN' : 'KSTREAM-OUTERJOIN');
  const keySerde = joined.keySerde ?? thisStream.keySerde ?? (stringSerde as unknown as Serde<K>);
  const thisValueSerde = joined.valueSerde ?? thisStream.valueSerde ?? jsonSerde<V1>();
  const otherValueSerde = joined.otherValueSerde ?? otherStream.valueSerde ?? jsonSerde<V2>();
  const thisStore = `${base}-this-join-store`;
  const otherStore = `${base}-other-join-store`;
  const outerStoreName = kind === 'inner' ? undefined : `${base}-outer-shared-join-store`;
  const retentionMs = windows.retentionMs();
  const { beforeMs, afterMs } = windows;
  builder.topology.addProcessor(`${base}-this-windowed`, () => new JoinWindowProcessor<K, V1>(thisStore), thisStream.nodeName);
  builder.topology.addProcessor(`${base}-other-windowed`, () => new JoinWindowProcessor<K, V2>(otherStore), otherStream.nodeName);
  const thisSide: JoinSide<V1, V2, R> = { isLeftSide: true, outer: kind !== 'inner', beforeMs, afterMs, windows, joiner, outerStoreName };
  // The other side looks back by `after` and ahead by `before`: the same pairs, seen from the right.
  const otherSide: JoinSide<V1, V2, R> = { isLeftSide: false, outer: kind === 'outer', beforeMs: afterMs, afterMs: beforeMs, windows, joiner, outerStoreName };
  builder.topology.addProcessor(`${base}-this-join`, () => new JoinSideProcessor<K, V1, V2, V1, V2, R>(otherStore, thisSide), `${base}-this-windowed`);
  builder.topology.addProcessor(`${base}-other-join`, () => new JoinSideProcessor<K, V2, V1, V1, V2, R>(thisStore, otherSide), `${base}-other-windowed`);
  builder.topology.addStateStore(joinWindowStore(thisStore, retentionMs, keySerde, thisValueSerde), `${base}-this-windowed`, `${base}-other-join`);
  builder.topology.addStateStore(joinWindowStore(otherStore, retentionMs, keySerde, otherValueSerde), `${base}-other-windowed`, `${base}-this-join`);
  if (outerStoreName) builder.topology.addStateStore(outerJoinStore(outerStoreName, keySerde, thisValueSerde, otherValueSerde), `${base}-this-join`, `${base}-other-join`);
  const merged = `${base}-merge`;
  builder.topology.addProcessor(merged, () => new StatelessProcessor<K, R, K, R>((record, forward) => forward(record)), `${base}-this-join`, `${base}-other-join`);
  return new KStream<K, R>(builder, merged, thisStream.keySerde, undefined, false);
}

import { joinWindowStore, type JoinWindowStore } from '../../state/JoinWindowStore.js';
import { jsonSerde, stringSerde, type Serde } from '../../state/Serde.js';
import type { Processor, ProcessorContext } from '../processor/Processor.js';
import type { StreamRecord } from '../processor/Record.js';
import { StatelessProcessor, type ValueJoiner } from './DslProcessors.js';
import type { JoinWindows } from './JoinWindows.js';
import { KStream } from './KStream.js';
import type { Named } from './Naming.js';

/**
 * Kafka Streams' KStreamJoinWindow: passes a keyed record on to its side's join processor, then
 * keeps it in its side's store for the other side to find. Null keys never join: dropped here.
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
    if (record.key === null || record.key === undefined) return this.context.count('null_key_dropped');
    this.context.forward(record);
    // A null value is an empty message: nothing to join with later (Kafka Streams' store ignores it).
    if (record.value !== null && record.value !== undefined) this.store.putRecord(record.key, record.value, record.timestamp);
  }
}

/**
 * One side of Kafka Streams' KStreamKStreamJoin (inner): a record at t joins the other side's
 * records of its key with timestamps in [t - before, t + after] (for the right side the bounds
 * swap), each result forwarded with the larger of the two timestamps. Null values are dropped.
 */
class JoinSideProcessor<K, V1, V2, R> implements Processor<K, V1, K, R> {
  private context!: ProcessorContext<K, R>;
  private other!: JoinWindowStore<K, V2>;

  constructor(
    private readonly otherStoreName: string,
    private readonly beforeMs: number,
    private readonly afterMs: number,
    private readonly joiner: (thisValue: V1, otherValue: V2) => R,
  ) {}

  init(context: ProcessorContext<K, R>): void {
    this.context = context;
    this.other = context.getStateStore(this.otherStoreName);
  }

  process(record: StreamRecord<K, V1>): void {
    if (record.value === null || record.value === undefined) return this.context.count('null_value_dropped');
    const timeFrom = Math.max(0, record.timestamp - this.beforeMs);
    const timeTo = Math.max(0, record.timestamp + this.afterMs);
    const matches = this.other.fetchRecords(record.key, timeFrom, timeTo);
    if (matches.length === 0) this.context.count('join_miss');
    for (const match of matches) {
      this.context.forward({ key: record.key, value: this.joiner(record.value, match.value), timestamp: Math.max(record.timestamp, match.timestamp), headers: record.headers });
    }
  }
}

export interface StreamJoined<K, V1, V2> extends Named {
  keySerde?: Serde<K>;
  valueSerde?: Serde<V1>;
  otherValueSerde?: Serde<V2>;
}

/** KStream.join(otherStream, joiner, JoinWindows), as KStreamImplJoin builds it. */
export function streamStreamJoin<K, V1, V2, R>(
  left: KStream<K, V1>,
  right: KStream<K, V2>,
  joiner: ValueJoiner<V1, V2, R>,
  windows: JoinWindows,
  joined: StreamJoined<K, V1, V2> = {},
): KStream<K, R> {
  const builder = left.builder;
  const thisStream = left.repartitionRequired ? left.repartition() : left;
  const otherStream = right.repartitionRequired ? right.repartition() : right;
  const base = joined.name ?? builder.names.next('KSTREAM-JOIN');
  const keySerde = joined.keySerde ?? thisStream.keySerde ?? (stringSerde as unknown as Serde<K>);
  const thisStore = `${base}-this-join-store`;
  const otherStore = `${base}-other-join-store`;
  const retentionMs = windows.retentionMs();
  const { beforeMs, afterMs } = windows;
  builder.topology.addProcessor(`${base}-this-windowed`, () => new JoinWindowProcessor<K, V1>(thisStore), thisStream.nodeName);
  builder.topology.addProcessor(`${base}-other-windowed`, () => new JoinWindowProcessor<K, V2>(otherStore), otherStream.nodeName);
  builder.topology.addProcessor(`${base}-this-join`, () => new JoinSideProcessor<K, V1, V2, R>(otherStore, beforeMs, afterMs, joiner), `${base}-this-windowed`);
  // The other side looks back by `after` and ahead by `before`: the same pairs, seen from the right.
  builder.topology.addProcessor(`${base}-other-join`, () => new JoinSideProcessor<K, V2, V1, R>(thisStore, afterMs, beforeMs, (r, l) => joiner(l, r)), `${base}-other-windowed`);
  builder.topology.addStateStore(joinWindowStore(thisStore, retentionMs, keySerde, joined.valueSerde ?? thisStream.valueSerde ?? jsonSerde<V1>()), `${base}-this-windowed`, `${base}-other-join`);
  builder.topology.addStateStore(joinWindowStore(otherStore, retentionMs, keySerde, joined.otherValueSerde ?? otherStream.valueSerde ?? jsonSerde<V2>()), `${base}-other-windowed`, `${base}-this-join`);
  const merged = `${base}-merge`;
  builder.topology.addProcessor(merged, () => new StatelessProcessor<K, R, K, R>((record, forward) => forward(record)), `${base}-this-join`, `${base}-other-join`);
  return new KStream<K, R>(builder, merged, thisStream.keySerde, undefined, false);
}

import type { KeyValueStore } from '../../state/StateStore.js';
import type { Processor, ProcessorContext } from '../processor/Processor.js';
import type { StreamRecord } from '../processor/Record.js';
import type { TimeWindows, Windowed } from './TimeWindows.js';
import type { TimestampedKeyValueStore, TimestampedWindowStore } from './TimestampedStores.js';

/**
 * The processors the DSL builds its operations from. Each is a plain Processor; none reaches
 * into the runtime.
 */

export type Initializer<A> = () => A;
export type Aggregator<K, V, A> = (key: K, value: V, aggregate: A) => A;
export type ValueJoiner<V1, V2, R> = (left: V1, right: V2) => R;

/** Records with a null key cannot be grouped or joined: dropped and counted, as in Kafka Streams. */
function dropsNullKey(context: ProcessorContext<unknown, unknown>, key: unknown): boolean {
  if (key !== null && key !== undefined) return false;
  context.count('null_key_dropped');
  return true;
}

export class StatelessProcessor<K, V, KOut, VOut> implements Processor<K, V, KOut, VOut> {
  /** Bound once: a closure per record would be garbage per record per node. */
  private forward: (record: StreamRecord<KOut, VOut>) => void = () => undefined;

  constructor(private readonly transform: (record: StreamRecord<K, V>, forward: (record: StreamRecord<KOut, VOut>) => void) => void) {}

  init(context: ProcessorContext<KOut, VOut>): void {
    this.forward = (out) => context.forward(out);
  }

  process(record: StreamRecord<K, V>): void {
    this.transform(record, this.forward);
  }
}

/** Materializes a topic as a table: latest value per key, null deletes. Forwards each update. */
export class TableSourceProcessor<K, V> implements Processor<K, V | null, K, V | null> {
  private context!: ProcessorContext<K, V | null>;
  private store!: KeyValueStore<K, V>;

  constructor(private readonly storeName: string) {}

  init(context: ProcessorContext<K, V | null>): void {
    this.context = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: StreamRecord<K, V | null>): void {
    if (dropsNullKey(this.context as ProcessorContext<unknown, unknown>, record.key)) return;
    if (record.value === null || record.value === undefined) this.store.delete(record.key);
    else this.store.put(record.key, record.value);
    this.context.forward(record);
  }
}

/**
 * Kafka Streams' KStreamAggregate: records with a null key or value are skipped; each update is
 * forwarded with the largest timestamp of the records aggregated so far, kept beside the
 * aggregate in the store.
 */
export class AggregateProcessor<K, V, A> implements Processor<K, V, K, A> {
  private context!: ProcessorContext<K, A>;
  private store!: TimestampedKeyValueStore<K, A>;

  constructor(
    private readonly storeName: string,
    private readonly initializer: Initializer<A>,
    private readonly aggregator: Aggregator<K, V, A>,
  ) {}

  init(context: ProcessorContext<K, A>): void {
    this.context = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: StreamRecord<K, V>): void {
    if (dropsNullKey(this.context as ProcessorContext<unknown, unknown>, record.key)) return;
    if (record.value === null || record.value === undefined) return this.context.count('null_value_dropped');
    const old = this.store.getWithTimestamp(record.key);
    const aggregate = this.aggregator(record.key, record.value, old ? old.value : this.initializer());
    const timestamp = old ? Math.max(old.timestamp, record.timestamp) : record.timestamp;
    this.store.putWithTimestamp(record.key, aggregate, timestamp);
    this.context.forward({ key: record.key, value: aggregate, timestamp, headers: record.headers });
  }
}

export type EmitStrategy = 'onUpdate' | 'onWindowClose';

const LAST_EMITTED_KEY = 'last-emitted-window-start';

/**
 * Windowed aggregation (Kafka Streams' KStreamWindowAggregate). Its stream time is that of the
 * records reaching this node (observedStreamTime), not the task's: records an upstream filter
 * removed, or with null keys, or of other inputs of the task do not close its windows. It is
 * kept as the window store's stream time, so it survives a restart (Kafka Streams restarts it
 * from the first record: see docs/KAFKA-STREAMS.md).
 * A record updates every window that contains it unless that window is closed (stream time >=
 * window end + grace): then it is late, counted, and changes nothing. Each aggregate carries the
 * largest timestamp of its records, the timestamp it is forwarded with.
 * onUpdate forwards every new aggregate; onWindowClose forwards each window once, when it closes,
 * remembering the last emitted window start in a changelogged store so a replay does not emit twice.
 */
export class WindowAggregateProcessor<K, V, A> implements Processor<K, V, Windowed<K>, A> {
  private context!: ProcessorContext<Windowed<K>, A>;
  private store!: TimestampedWindowStore<K, A>;
  private emitted: KeyValueStore<string, number> | undefined;

  constructor(
    private readonly storeName: string,
    private readonly windows: TimeWindows,
    private readonly initializer: Initializer<A>,
    private readonly aggregator: Aggregator<K, V, A>,
    private readonly emitStrategy: EmitStrategy,
    private readonly emittedStoreName: string | undefined,
    /**
     * A windowed cogroup's aggregations share one store but each has its own stream time, as
     * each KStreamWindowAggregate of Kafka Streams' cogroup has: kept in memory, from nothing at
     * start, as there; the store's stream time is then the largest window start written to it.
     */
    private readonly ownStreamTime = false,
  ) {}

  private observedStreamTime = -1;

  init(context: ProcessorContext<Windowed<K>, A>): void {
    this.context = context;
    this.store = context.getStateStore(this.storeName);
    if (this.emitStrategy === 'onWindowClose') this.emitted = context.getStateStore<KeyValueStore<string, number>>(this.emittedStoreName!);
  }

  process(record: StreamRecord<K, V>): void {
    if (dropsNullKey(this.context as ProcessorContext<unknown, unknown>, record.key)) return;
    if (this.ownStreamTime) this.observedStreamTime = Math.max(this.observedStreamTime, record.timestamp);
    const streamTime = this.ownStreamTime ? this.observedStreamTime : Math.max(this.store.streamTime, record.timestamp);
    const { sizeMs, graceMs } = this.windows;
    let late = false;
    for (const start of this.windows.windowStartsFor(record.timestamp)) {
      const end = start + sizeMs;
      if (end + graceMs <= streamTime) {
        late = true;
        continue;
      }
      const old = this.store.fetchWithTimestamp(record.key, start);
      const aggregate = this.aggregator(record.key, record.value, old ? old.value : this.initializer());
      const timestamp = old ? Math.max(old.timestamp, record.timestamp) : record.timestamp;
      // A cogroup's shared store expires by the window starts written to it, as Kafka Streams' segmented store.
      if (this.ownStreamTime) this.store.observeStreamTime(start);
      this.store.putWithTimestamp(record.key, aggregate, timestamp, start);
      if (this.emitStrategy === 'onUpdate') {
        this.context.forward({ key: { key: record.key, windowStart: start, windowEnd: end }, value: aggregate, timestamp, headers: record.headers });
      }
    }
    if (late) this.context.count('late');
    if (this.emitStrategy === 'onWindowClose') this.emitClosedWindows(streamTime);
    // After emitting, so a window this record closed is emitted before the store expires it.
    if (!this.ownStreamTime) this.store.observeStreamTime(streamTime);
  }

  private emitClosedWindows(streamTime: number): void {
    const { sizeMs, graceMs, advanceMs } = this.windows;
    // A window closes when stream time reaches start + size + grace.
    const closedUpTo = streamTime - sizeMs - graceMs;
    const lastEmitted = this.emitted!.get(LAST_EMITTED_KEY) ?? -1;
    // Window starts are multiples of the advance: nothing new closed unless we crossed one.
    if (Math.floor(closedUpTo / advanceMs) <= Math.floor(lastEmitted / advanceMs)) return;
    // Ordered by window start, then key: Kafka Streams' time-ordered store for emit-on-close.
    for (const { key, value } of this.store.fetchAllWithTimestamp(lastEmitted + 1, closedUpTo)) {
      const windowEnd = key.windowStart + sizeMs;
      // No headers: Kafka Streams passes on those of the record that happened to close the window.
      this.context.forward({ key: { key: key.key, windowStart: key.windowStart, windowEnd }, value: value.value, timestamp: value.timestamp, headers: {} });
    }
    this.emitted!.put(LAST_EMITTED_KEY, closedUpTo);
  }
}

export class StreamTableJoinProcessor<K, V1, V2, R> implements Processor<K, V1, K, R> {
  private context!: ProcessorContext<K, R>;
  private table!: KeyValueStore<K, V2>;

  constructor(
    private readonly tableStoreName: string,
    private readonly joiner: ValueJoiner<V1, V2 | undefined, R>,
    private readonly leftJoin: boolean,
  ) {}

  init(context: ProcessorContext<K, R>): void {
    this.context = context;
    this.table = context.getStateStore(this.tableStoreName);
  }

  /**
   * As KStreamKTableJoinProcessor: a null value is dropped (in a key-value model it is an empty
   * message, and a null right side already means "no match" to a left joiner); a null key is
   * dropped by the inner join, while the left join (KIP-962) passes it with no right side.
   */
  process(record: StreamRecord<K, V1>): void {
    const nullKey = record.key === null || record.key === undefined;
    if (record.value === null || record.value === undefined) return this.context.count('null_value_dropped');
    if (nullKey && !this.leftJoin) return this.context.count('null_key_dropped');
    const right = nullKey ? undefined : this.table.get(record.key);
    if (right === undefined) {
      this.context.count('join_miss');
      if (!this.leftJoin) return;
    }
    this.context.forward({ key: record.key, value: this.joiner(record.value, right), timestamp: record.timestamp, headers: record.headers });
  }
}

/** Stream–global-table join: the lookup key is derived from the record, no co-partitioning needed. */
export class StreamGlobalTableJoinProcessor<K, V1, GK, V2, R> implements Processor<K, V1, K, R> {
  private context!: ProcessorContext<K, R>;
  private table!: KeyValueStore<GK, V2>;

  constructor(
    private readonly globalStoreName: string,
    private readonly keySelector: (key: K, value: V1) => GK | null | undefined,
    private readonly joiner: ValueJoiner<V1, V2 | undefined, R>,
    private readonly leftJoin: boolean,
  ) {}

  init(context: ProcessorContext<K, R>): void {
    this.context = context;
    this.table = context.getStateStore(this.globalStoreName);
  }

  /**
   * As KStreamKTableJoinProcessor with a GlobalKTable (Kafka Streams 4.4, KAFKA-19208): a null
   * value is dropped; a null lookup key is dropped by the inner join and passes the left join
   * with no right side. The record's own key plays no part.
   */
  process(record: StreamRecord<K, V1>): void {
    // Checked before the selector runs: selectors read the value, and a null value is dropped anyway.
    if (record.value === null || record.value === undefined) return this.context.count('null_value_dropped');
    const lookup = this.keySelector(record.key, record.value);
    const noLookup = lookup === null || lookup === undefined;
    if (noLookup && !this.leftJoin) return this.context.count('null_key_dropped');
    const right = noLookup ? undefined : this.table.get(lookup);
    if (right === undefined) {
      this.context.count('join_miss');
      if (!this.leftJoin) return;
    }
    this.context.forward({ key: record.key, value: this.joiner(record.value, right), timestamp: record.timestamp, headers: record.headers });
  }
}

import { jsonSerde, stringSerde, type Serde } from '../../state/Serde.js';
import { AggregateProcessor, type Aggregator, type Initializer } from './DslProcessors.js';
import type { KStream } from './KStream.js';
import { KTable } from './KTable.js';
import type { Named } from './Naming.js';
import { CogroupedKStream } from './CogroupedKStream.js';
import { SessionWindowedKStream } from './SessionWindowedKStream.js';
import { SessionWindows } from './SessionWindows.js';
import { SlidingWindowedKStream } from './SlidingWindowedKStream.js';
import { SlidingWindows } from './SlidingWindows.js';
import { TimeWindowedKStream } from './TimeWindowedKStream.js';
import { inMemoryTimestampedKeyValueStoreBuilder, type StoreType } from './MaterializedStores.js';
import { loggedAsMaterialized } from './LoggingDisabled.js';
import { timestampedKeyValueStoreBuilder } from './TimestampedStores.js';
import type { StoreBuilder } from '../../state/StoreBuilder.js';
import type { TimeWindows } from './TimeWindows.js';

/** Where an aggregation keeps its state: the store name (queryable, changelog name) and its serdes. */
export interface Materialized<K, A> extends Named {
  keySerde?: Serde<K>;
  valueSerde?: Serde<A>;
  /** Window stores only: keep windows this long for interactive queries (at least size + grace). */
  retentionMs?: number;
  /** Key-value aggregations: 'in_memory' keeps the store in JS memory, restored from its changelog at each start. Default 'rocksdb'. */
  storeType?: StoreType;
  /**
   * false (withLoggingDisabled): no changelog. An in-memory store then starts empty at every
   * start; a RocksDB store keeps its state across clean restarts, not across a crash or the loss
   * of its directory (topology/dsl/LoggingDisabled.ts). Default true.
   */
  loggingEnabled?: boolean;
  /** Accepted for Kafka Streams parity (withCachingDisabled): there is no record cache, every update is forwarded. */
  cachingEnabled?: boolean;
}

/** A stream grouped by key, ready to aggregate (Kafka Streams' KGroupedStream). */
export class KGroupedStream<K, V> {
  constructor(
    readonly stream: KStream<K, V>,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
  ) {}

  aggregate<A>(initializer: Initializer<A>, aggregator: Aggregator<K, V, A>, materialized: Materialized<K, A> = {}): KTable<K, A> {
    const builder = this.stream.builder;
    const storeName = materialized.name ?? builder.names.next('KSTREAM-AGGREGATE-STATE-STORE');
    const keySerde = materialized.keySerde ?? this.keySerde ?? (stringSerde as unknown as Serde<K>);
    const valueSerde = materialized.valueSerde ?? jsonSerde<A>();
    const name = builder.names.next('KSTREAM-AGGREGATE');
    builder.topology.addProcessor(name, () => new AggregateProcessor<K, V, A>(storeName, initializer, aggregator), this.stream.nodeName);
    builder.topology.addStateStore(materializedKeyValueStore(storeName, keySerde, valueSerde, materialized), name);
    return new KTable<K, A>(builder, name, storeName, keySerde, valueSerde);
  }

  count(materialized: Materialized<K, number> = {}): KTable<K, number> {
    return this.aggregate<number>(() => 0, (_key, _value, count) => count + 1, materialized);
  }

  reduce(reducer: (aggregate: V, value: V) => V, materialized: Materialized<K, V> = {}): KTable<K, V> {
    return this.aggregate<V>(() => undefined as unknown as V, (_key, value, aggregate) => (aggregate === undefined ? value : reducer(aggregate, value)), {
      ...materialized,
      valueSerde: materialized.valueSerde ?? this.valueSerde,
    });
  }

  /** Starts a cogroup (Kafka Streams' KGroupedStream.cogroup): this stream's aggregator into an aggregate shared with other grouped streams. */
  cogroup<A>(aggregator: Aggregator<K, V, A>): CogroupedKStream<K, A> {
    return new CogroupedKStream<K, A>(this as KGroupedStream<K, unknown>, aggregator as Aggregator<K, unknown, A>);
  }

  windowedBy(windows: TimeWindows): TimeWindowedKStream<K, V>;
  windowedBy(windows: SessionWindows): SessionWindowedKStream<K, V>;
  windowedBy(windows: SlidingWindows): SlidingWindowedKStream<K, V>;
  windowedBy(windows: TimeWindows | SessionWindows | SlidingWindows): TimeWindowedKStream<K, V> | SessionWindowedKStream<K, V> | SlidingWindowedKStream<K, V> {
    if (windows instanceof SessionWindows) return new SessionWindowedKStream(this, windows);
    if (windows instanceof SlidingWindows) return new SlidingWindowedKStream(this, windows);
    return new TimeWindowedKStream(this, windows);
  }
}

/** The store a key-value Materialized asks for (Kafka Streams' KeyValueStoreMaterializer). */
export function materializedKeyValueStore<K, A>(storeName: string, keySerde: Serde<K>, valueSerde: Serde<A>, materialized: Materialized<K, A>): StoreBuilder {
  if (materialized.storeType === 'in_memory') {
    return inMemoryTimestampedKeyValueStoreBuilder(storeName, keySerde, valueSerde, { loggingEnabled: materialized.loggingEnabled });
  }
  return loggedAsMaterialized(timestampedKeyValueStoreBuilder(storeName, keySerde, valueSerde), materialized);
}

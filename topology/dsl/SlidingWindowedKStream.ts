import { jsonSerde, stringSerde, type Serde } from '../../state/Serde.js';
import type { Aggregator, EmitStrategy, Initializer } from './DslProcessors.js';
import type { KGroupedStream, Materialized } from './KGroupedStream.js';
import { KTable } from './KTable.js';
import { SlidingWindowAggregateProcessor } from './SlidingWindowAggregateProcessor.js';
import { loggedAsMaterialized } from './LoggingDisabled.js';
import { keyValueStoreBuilder } from './MaterializedStores.js';
import type { SlidingWindows } from './SlidingWindows.js';
import { timestampedWindowStoreBuilder } from './TimestampedStores.js';
import type { Windowed } from './TimeWindows.js';
import { windowedKeyWithoutSerde } from './WindowedSerdes.js';

/**
 * A grouped stream cut into sliding windows (what Kafka Streams' windowedBy(SlidingWindows)
 * returns, a TimeWindowedKStream there). Keys of the result are Windowed<K> with windowEnd =
 * windowStart + timeDifference, both inclusive.
 */
export class SlidingWindowedKStream<K, V> {
  private emitStrategy: EmitStrategy = 'onUpdate';

  constructor(
    private readonly grouped: KGroupedStream<K, V>,
    readonly windows: SlidingWindows,
  ) {}

  /** onUpdate (default) forwards every change; onWindowClose forwards each window once, final (Kafka Streams' emitStrategy). */
  emit(strategy: EmitStrategy): this {
    this.emitStrategy = strategy;
    return this;
  }

  aggregate<A>(initializer: Initializer<A>, aggregator: Aggregator<K, V, A>, materialized: Materialized<K, A> = {}): KTable<Windowed<K>, A> {
    const builder = this.grouped.stream.builder;
    const storeName = materialized.name ?? builder.names.next('KSTREAM-AGGREGATE-STATE-STORE');
    const keySerde = materialized.keySerde ?? this.grouped.keySerde ?? (stringSerde as unknown as Serde<K>);
    const valueSerde = materialized.valueSerde ?? jsonSerde<A>();
    const windows = this.windows;
    if (materialized.retentionMs !== undefined && materialized.retentionMs < windows.retentionMs()) {
      // As SlidingWindowStoreMaterializer: older windows are needed to create new ones.
      throw new Error(`store "${storeName}": retention ${materialized.retentionMs} ms is below 2 x timeDifference + grace (${windows.retentionMs()} ms)`);
    }
    const retentionMs = materialized.retentionMs ?? windows.retentionMs();
    const name = builder.names.next('KSTREAM-SLIDINGWINDOWAGGREGATE');
    const strategy = this.emitStrategy;
    const emittedStore = strategy === 'onWindowClose' ? `${storeName}-emitted` : undefined;
    builder.topology.addProcessor(
      name,
      () => new SlidingWindowAggregateProcessor<K, V, A>(storeName, windows, initializer, aggregator, strategy, emittedStore),
      this.grouped.stream.nodeName,
    );
    // Retention - 1: our store keeps starts >= streamTime - retention, Kafka Streams' > streamTime - retention.
    builder.topology.addStateStore(
      loggedAsMaterialized(timestampedWindowStoreBuilder(storeName, { windowSizeMs: windows.timeDifferenceMs, retentionMs: retentionMs - 1 }, keySerde, valueSerde), materialized),
      name,
    );
    if (emittedStore) builder.topology.addStateStore(keyValueStoreBuilder(emittedStore, stringSerde, jsonSerde<number>()), name);
    return new KTable<Windowed<K>, A>(builder, name, storeName, windowedKeyWithoutSerde<Windowed<K>>(name), valueSerde);
  }

  count(materialized: Materialized<K, number> = {}): KTable<Windowed<K>, number> {
    return this.aggregate<number>(() => 0, (_key, _value, count) => count + 1, materialized);
  }

  reduce(reducer: (aggregate: V, value: V) => V, materialized: Materialized<K, V> = {}): KTable<Windowed<K>, V> {
    return this.aggregate<V>(() => undefined as unknown as V, (_key, value, aggregate) => (aggregate === undefined || aggregate === null ? value : reducer(aggregate, value)), {
      ...materialized,
      valueSerde: materialized.valueSerde ?? this.grouped.valueSerde,
    });
  }
}

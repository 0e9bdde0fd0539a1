import { jsonSerde, stringSerde, type Serde } from '../../state/Serde.js';
import { WindowAggregateProcessor, type Aggregator, type EmitStrategy, type Initializer } from './DslProcessors.js';
import type { KGroupedStream, Materialized } from './KGroupedStream.js';
import { KTable } from './KTable.js';
import { loggedAsMaterialized } from './LoggingDisabled.js';
import { keyValueStoreBuilder } from './MaterializedStores.js';
import { timestampedWindowStoreBuilder } from './TimestampedStores.js';
import type { TimeWindows, Windowed } from './TimeWindows.js';
import { windowedKeyWithoutSerde } from './WindowedSerdes.js';

/** A grouped stream cut into time windows (Kafka Streams' TimeWindowedKStream). */
export class TimeWindowedKStream<K, V> {
  private emitStrategy: EmitStrategy = 'onUpdate';

  constructor(
    private readonly grouped: KGroupedStream<K, V>,
    readonly windows: TimeWindows,
  ) {}

  /** onUpdate (default) forwards every change; onWindowClose forwards each window once, final. */
  emit(strategy: EmitStrategy): this {
    this.emitStrategy = strategy;
    return this;
  }

  aggregate<A>(initializer: Initializer<A>, aggregator: Aggregator<K, V, A>, materialized: Materialized<K, A> = {}): KTable<Windowed<K>, A> {
    const builder = this.grouped.stream.builder;
    const storeName = materialized.name ?? builder.names.next('KSTREAM-AGGREGATE-STATE-STORE');
    const keySerde = materialized.keySerde ?? this.grouped.keySerde ?? (stringSerde as unknown as Serde<K>);
    const valueSerde = materialized.valueSerde ?? jsonSerde<A>();
    const retentionMs = Math.max(materialized.retentionMs ?? 0, this.windows.retentionMs());
    const name = builder.names.next('KSTREAM-WINDOWED-AGGREGATE');
    const emittedStore = this.emitStrategy === 'onWindowClose' ? `${storeName}-emitted` : undefined;
    const windows = this.windows;
    const strategy = this.emitStrategy;
    builder.topology.addProcessor(
      name,
      () => new WindowAggregateProcessor<K, V, A>(storeName, windows, initializer, aggregator, strategy, emittedStore),
      this.grouped.stream.nodeName,
    );
    builder.topology.addStateStore(loggedAsMaterialized(timestampedWindowStoreBuilder(storeName, { windowSizeMs: windows.sizeMs, retentionMs }, keySerde, valueSerde), materialized), name);
    if (emittedStore) builder.topology.addStateStore(keyValueStoreBuilder(emittedStore, stringSerde, jsonSerde<number>()), name);
    return new KTable<Windowed<K>, A>(builder, name, storeName, windowedKeyWithoutSerde<Windowed<K>>(name), valueSerde);
  }

  count(materialized: Materialized<K, number> = {}): KTable<Windowed<K>, number> {
    return this.aggregate<number>(() => 0, (_key, _value, count) => count + 1, materialized);
  }

  reduce(reducer: (aggregate: V, value: V) => V, materialized: Materialized<K, V> = {}): KTable<Windowed<K>, V> {
    return this.aggregate<V>(() => undefined as unknown as V, (_key, value, aggregate) => (aggregate === undefined ? value : reducer(aggregate, value)), {
      ...materialized,
      valueSerde: materialized.valueSerde ?? this.grouped.valueSerde,
    });
  }
}

import { jsonSerde, stringSerde, type Serde } from '../../state/Serde.js';
import { sessionStore } from '../../state/RocksDBSessionStore.js';
import type { Aggregator, EmitStrategy, Initializer } from './DslProcessors.js';
import type { KGroupedStream, Materialized } from './KGroupedStream.js';
import { KTable } from './KTable.js';
import { SessionWindowAggregateProcessor, type Merger } from './SessionWindowAggregateProcessor.js';
import type { SessionWindows } from './SessionWindows.js';
import type { Windowed } from './TimeWindows.js';
import { windowedKeyWithoutSerde } from './WindowedSerdes.js';
import { loggedAsMaterialized } from './LoggingDisabled.js';
import { keyValueStoreBuilder } from './MaterializedStores.js';

/**
 * A grouped stream cut into sessions (Kafka Streams' SessionWindowedKStream). The result is a
 * table of sessions keyed by Windowed<K> (start and end of the session, both inclusive): merged
 * sessions are deleted from it, so its stream carries a tombstone (null value) for each.
 */
export class SessionWindowedKStream<K, V> {
  private emitStrategy: EmitStrategy = 'onUpdate';

  constructor(
    private readonly grouped: KGroupedStream<K, V>,
    readonly windows: SessionWindows,
  ) {}

  /** onUpdate (default) forwards every change; onWindowClose forwards each session once, final (Kafka Streams' emitStrategy). */
  emit(strategy: EmitStrategy): this {
    this.emitStrategy = strategy;
    return this;
  }

  aggregate<A>(initializer: Initializer<A>, aggregator: Aggregator<K, V, A>, merger: Merger<K, A>, materialized: Materialized<K, A> = {}): KTable<Windowed<K>, A | null> {
    const builder = this.grouped.stream.builder;
    const storeName = materialized.name ?? builder.names.next('KSTREAM-AGGREGATE-STATE-STORE');
    const keySerde = materialized.keySerde ?? this.grouped.keySerde ?? (stringSerde as unknown as Serde<K>);
    const valueSerde = materialized.valueSerde ?? jsonSerde<A>();
    const name = builder.names.next('KSTREAM-SESSION-WINDOWED-AGGREGATE');
    const windows = this.windows;
    // Kafka Streams' default session store retention: gap + grace; Materialized may extend it.
    const retentionMs = Math.max(materialized.retentionMs ?? 0, windows.inactivityGapMs + windows.graceMs);
    const strategy = this.emitStrategy;
    const emittedStore = strategy === 'onWindowClose' ? `${storeName}-emitted` : undefined;
    builder.topology.addProcessor(
      name,
      () => new SessionWindowAggregateProcessor<K, V, A>(storeName, windows, initializer, aggregator, merger, retentionMs, strategy, emittedStore),
      this.grouped.stream.nodeName,
    );
    builder.topology.addStateStore(loggedAsMaterialized(sessionStore(storeName, keySerde, valueSerde), materialized), name);
    if (emittedStore) builder.topology.addStateStore(keyValueStoreBuilder(emittedStore, stringSerde, jsonSerde<number>()), name);
    return new KTable<Windowed<K>, A | null>(builder, name, storeName, windowedKeyWithoutSerde<Windowed<K>>(name), valueSerde as Serde<A | null>);
  }

  count(materialized: Materialized<K, number> = {}): KTable<Windowed<K>, number | null> {
    return this.aggregate<number>(() => 0, (_key, _value, count) => count + 1, (_key, a, b) => a + b, materialized);
  }

  /** The reducer also merges sessions, as in Kafka Streams. */
  reduce(reducer: (aggregate: V, value: V) => V, materialized: Materialized<K, V> = {}): KTable<Windowed<K>, V | null> {
    const combine = (a: V, b: V) => (a === undefined ? b : b === undefined ? a : reducer(a, b));
    return this.aggregate<V>(() => undefined as unknown as V, (_key, value, aggregate) => combine(aggregate, value), (_key, a, b) => combine(a, b), {
      ...materialized,
      valueSerde: materialized.valueSerde ?? this.grouped.valueSerde,
    });
  }
}

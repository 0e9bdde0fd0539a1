import { jsonSerde, stringSerde, type Serde } from '../../state/Serde.js';
import { changeSerde } from './ChangeSerde.js';
import type { Initializer } from './DslProcessors.js';
import { TableAggregateProcessor, TableReduceProcessor } from './KGroupedTableProcessors.js';
import type { Materialized } from './KGroupedStream.js';
import { KTable } from './KTable.js';
import type { StreamsBuilder } from './StreamsBuilder.js';
import { timestampedKeyValueStoreBuilder } from './TimestampedStores.js';

/**
 * A table regrouped by a new key (Kafka Streams' KGroupedTable): its updates wait in a
 * repartition topic as Change records (new and old value), read back by the aggregation.
 */
export class KGroupedTable<K, V> {
  constructor(
    readonly builder: StreamsBuilder,
    /** The node that writes the repartition topic (KTABLE-SELECT). */
    readonly selectNodeName: string,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
  ) {}

  /** adder folds a row into its group's aggregate, subtractor takes a row that left or changed back out. */
  aggregate<A>(
    initializer: Initializer<A>,
    adder: (key: K, value: V, aggregate: A) => A,
    subtractor: (key: K, value: V, aggregate: A) => A,
    materialized: Materialized<K, A> = {},
  ): KTable<K, A> {
    return this.build(materialized, (storeName) => () => new TableAggregateProcessor<K, V, A>(storeName, initializer, adder, subtractor), materialized.valueSerde);
  }

  reduce(adder: (aggregate: V, value: V) => V, subtractor: (aggregate: V, value: V) => V, materialized: Materialized<K, V> = {}): KTable<K, V> {
    return this.build(materialized, (storeName) => () => new TableReduceProcessor<K, V>(storeName, adder, subtractor), materialized.valueSerde ?? this.valueSerde);
  }

  count(materialized: Materialized<K, number> = {}): KTable<K, number> {
    return this.aggregate<number>(() => 0, (_k, _v, count) => count + 1, (_k, _v, count) => count - 1, materialized);
  }

  /** KGroupedTableImpl.doAggregate: repartition topic (sink + source) then the aggregation with its store. */
  private build<A>(
    materialized: Materialized<K, A>,
    processor: (storeName: string) => () => TableAggregateProcessor<K, V, A> | TableReduceProcessor<K, V>,
    valueSerde: Serde<A> | undefined,
  ): KTable<K, A> {
    const { topology, names } = this.builder;
    const base = names.next('KTABLE-AGGREGATE');
    const storeName = materialized.name ?? `${base}-STATE-STORE`;
    const topic = `${storeName}-repartition`;
    const keySerde = materialized.keySerde ?? this.keySerde ?? (stringSerde as unknown as Serde<K>);
    const changes = changeSerde(this.valueSerde ?? jsonSerde<V>());
    topology.addInternalTopic(topic);
    topology.addSink(`${base}-sink`, topic, { keySerde, valueSerde: changes, internal: true }, this.selectNodeName);
    topology.addSource(`${base}-source`, [topic], { keySerde, valueSerde: changes, internal: true });
    topology.addProcessor(base, processor(storeName) as () => TableAggregateProcessor<K, V, A>, `${base}-source`);
    const resultSerde = valueSerde ?? jsonSerde<A>();
    topology.addStateStore(timestampedKeyValueStoreBuilder(storeName, keySerde, resultSerde), base);
    return new KTable<K, A>(this.builder, base, storeName, keySerde, resultSerde);
  }
}

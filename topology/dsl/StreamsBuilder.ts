import { jsonSerde, stringSerde, type Serde } from '../../state/Serde.js';
import type { StoreBuilder } from '../../state/StoreBuilder.js';
import { Topology, type TimestampExtractor } from '../Topology.js';
import { TableSourceProcessor } from './DslProcessors.js';
import { GlobalKTable } from './GlobalKTable.js';
import { KStream } from './KStream.js';
import { KTable } from './KTable.js';
import { NameGenerator, type Named } from './Naming.js';
import { keyValueStoreBuilder } from './MaterializedStores.js';

export interface Consumed<K, V> extends Named {
  keySerde?: Serde<K>;
  valueSerde?: Serde<V>;
  timestampExtractor?: TimestampExtractor;
}

/** A source table's store: its name, and whether it keeps a Bloom filter of its keys. */
export interface TableStoreOptions {
  storeName?: string;
  keyFilter?: boolean;
}

/**
 * Entry point of the DSL: declare streams and tables over topics, chain operations, build().
 * Keys default to UTF-8 strings and values to JSON.
 */
export class StreamsBuilder {
  readonly topology = new Topology();
  readonly names = new NameGenerator();

  stream<K = string, V = unknown>(topics: string | string[], consumed: Consumed<K, V> = {}): KStream<K, V> {
    const name = consumed.name ?? this.names.next('KSTREAM-SOURCE');
    const keySerde = consumed.keySerde ?? (stringSerde as unknown as Serde<K>);
    const valueSerde = consumed.valueSerde ?? jsonSerde<V>();
    this.topology.addSource(name, Array.isArray(topics) ? topics : [topics], { keySerde, valueSerde, timestampExtractor: consumed.timestampExtractor });
    return new KStream<K, V>(this, name, keySerde, valueSerde, false);
  }

  /**
   * A table over a topic, partitioned like it: join it with co-partitioned streams. `keyFilter`
   * (ours, not Kafka Streams'): the store keeps a Bloom filter of its keys, so a join's lookup of
   * a key the table does not hold skips RocksDB (state/Stores.ts); for tables looked up mostly for
   * keys they may not hold, such as reference data.
   */
  table<K = string, V = unknown>(topic: string, consumed: Consumed<K, V> & TableStoreOptions = {}): KTable<K, V> {
    const sourceName = consumed.name ?? this.names.next('KTABLE-SOURCE');
    const keySerde = consumed.keySerde ?? (stringSerde as unknown as Serde<K>);
    const valueSerde = consumed.valueSerde ?? jsonSerde<V>();
    const storeName = consumed.storeName ?? `${topic}-STATE-STORE`;
    const materializer = this.names.next('KTABLE-SOURCE-MATERIALIZE');
    this.topology.addSource(sourceName, [topic], { keySerde, valueSerde, timestampExtractor: consumed.timestampExtractor });
    this.topology.addProcessor(materializer, () => new TableSourceProcessor<K, V>(storeName), sourceName);
    this.topology.addStateStore(keyValueStoreBuilder(storeName, keySerde, valueSerde, { keyFilter: consumed.keyFilter }), materializer);
    return new KTable<K, V>(this, materializer, storeName, keySerde, valueSerde);
  }

  /** A table of every partition of a topic on every instance: join it with any stream by a derived key. `keyFilter` as for table(). */
  globalTable<K = string, V = unknown>(topic: string, consumed: Omit<Consumed<K, V>, 'timestampExtractor'> & TableStoreOptions = {}): GlobalKTable<K, V> {
    const keySerde = consumed.keySerde ?? (stringSerde as unknown as Serde<K>);
    const valueSerde = consumed.valueSerde ?? jsonSerde<V>();
    const storeName = consumed.storeName ?? `${topic}-GLOBAL-STORE`;
    this.topology.addGlobalStore(keyValueStoreBuilder(storeName, keySerde, valueSerde, { keyFilter: consumed.keyFilter }), topic);
    return new GlobalKTable<K, V>(storeName, topic);
  }

  /**
   * Registers a state store for process()/processValues() nodes to connect to by name with their
   * `stores` option (Kafka Streams' StreamsBuilder.addStateStore). Its changelog topic is planned
   * like the DSL's own stores'.
   *
   * @example
   *   builder.addStateStore(keyValueStoreBuilder('seen', stringSerde, jsonSerde<number>()));
   *   events.processValues(() => new Seen(), { name: 'seen', stores: ['seen'] });
   */
  addStateStore(storeBuilder: StoreBuilder): this {
    this.topology.addStateStore(storeBuilder);
    return this;
  }

  /** The processor node a store is connected to first (the node a DSL operation named, e.g. for its late counts). */
  nodeOwningStore(storeName: string): string | undefined {
    for (const node of this.topology.allNodes()) {
      if (node.kind === 'processor' && node.stores[0] === storeName) return node.name;
    }
    return undefined;
  }

  build(): Topology {
    return this.topology;
  }
}

import { jsonSerde, stringSerde, type Serde } from '../../state/Serde.js';
import type { ProcessorSupplier } from '../processor/Processor.js';
import type { FixedKeyProcessorSupplier } from '../processor/FixedKeyProcessor.js';
import type { StreamRecord } from '../processor/Record.js';
import type { StreamPartitioner, TopicNameExtractor } from '../Topology.js';
import { StatelessProcessor, StreamGlobalTableJoinProcessor, StreamTableJoinProcessor, type ValueJoiner } from './DslProcessors.js';
import type { GlobalKTable } from './GlobalKTable.js';
import { KGroupedStream } from './KGroupedStream.js';
import type { KTable, TableMaterialized } from './KTable.js';
import type { Named } from './Naming.js';
import type { StreamsBuilder } from './StreamsBuilder.js';
import { streamToTable } from './StreamToTable.js';
import { streamStreamJoin, type StreamJoined } from './StreamStreamJoin.js';
import type { JoinWindows } from './JoinWindows.js';
import { requireKeySerde } from './WindowedSerdes.js';
import { validateRepartitioned, type Repartitioned } from './Repartitioned.js';

export interface Produced<K, V> extends Named {
  keySerde?: Serde<K>;
  valueSerde?: Serde<V>;
  /**
   * Produced.streamPartitioner: which partitions of the topic each record goes to. With a
   * TopicNameExtractor it is given the partition count of the record's topic, looked up at commit.
   */
  streamPartitioner?: StreamPartitioner<K, V>;
}

export interface Grouped<K, V> extends Named {
  keySerde?: Serde<K>;
  valueSerde?: Serde<V>;
}

export interface Branch<K, V> {
  name: string;
  predicate: (key: K, value: V) => boolean;
}

/**
 * A record stream (Kafka Streams' KStream). Every operation adds a node to the builder's
 * Processor API topology and returns the stream of its output.
 */
export class KStream<K, V> {
  constructor(
    readonly builder: StreamsBuilder,
    /** The node whose output this stream is. */
    readonly nodeName: string,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    /** Set once the key may have changed: grouping or joining must go through a repartition topic. */
    readonly repartitionRequired: boolean,
  ) {}

  private stateless<K2, V2>(
    prefix: string,
    named: Named | undefined,
    transform: (record: StreamRecord<K, V>, forward: (record: StreamRecord<K2, V2>) => void) => void,
    keyChanged: boolean,
    keySerde: Serde<K2> | undefined,
    valueSerde: Serde<V2> | undefined,
  ): KStream<K2, V2> {
    const name = named?.name ?? this.builder.names.next(prefix);
    this.builder.topology.addProcessor(name, () => new StatelessProcessor<K, V, K2, V2>(transform), this.nodeName);
    return new KStream<K2, V2>(this.builder, name, keySerde, valueSerde, this.repartitionRequired || keyChanged);
  }

  filter(predicate: (key: K, value: V) => boolean, named?: Named): KStream<K, V> {
    return this.stateless<K, V>('KSTREAM-FILTER', named, (r, forward) => {
      if (predicate(r.key, r.value)) forward(r);
    }, false, this.keySerde, this.valueSerde);
  }

  filterNot(predicate: (key: K, value: V) => boolean, named?: Named): KStream<K, V> {
    return this.filter((key, value) => !predicate(key, value), named);
  }

  mapValues<V2>(mapper: (value: V, key: K) => V2, named?: Named): KStream<K, V2> {
    return this.stateless<K, V2>('KSTREAM-MAPVALUES', named, (r, forward) => {
      forward({ key: r.key, value: mapper(r.value, r.key), timestamp: r.timestamp, headers: r.headers });
    }, false, this.keySerde, undefined);
  }

  map<K2, V2>(mapper: (key: K, value: V) => [K2, V2], named?: Named): KStream<K2, V2> {
    return this.stateless<K2, V2>('KSTREAM-MAP', named, (r, forward) => {
      const [key, value] = mapper(r.key, r.value);
      forward({ key, value, timestamp: r.timestamp, headers: r.headers });
    }, true, undefined, undefined);
  }

  selectKey<K2>(selector: (key: K, value: V) => K2, named?: Named): KStream<K2, V> {
    return this.stateless<K2, V>('KSTREAM-KEY-SELECT', named, (r, forward) => {
      forward({ key: selector(r.key, r.value), value: r.value, timestamp: r.timestamp, headers: r.headers });
    }, true, undefined, this.valueSerde);
  }

  flatMap<K2, V2>(mapper: (key: K, value: V) => Iterable<[K2, V2]>, named?: Named): KStream<K2, V2> {
    return this.stateless<K2, V2>('KSTREAM-FLATMAP', named, (r, forward) => {
      for (const [key, value] of mapper(r.key, r.value)) forward({ key, value, timestamp: r.timestamp, headers: r.headers });
    }, true, undefined, undefined);
  }

  flatMapValues<V2>(mapper: (value: V, key: K) => Iterable<V2>, named?: Named): KStream<K, V2> {
    return this.stateless<K, V2>('KSTREAM-FLATMAPVALUES', named, (r, forward) => {
      for (const value of mapper(r.value, r.key)) forward({ key: r.key, value, timestamp: r.timestamp, headers: r.headers });
    }, false, this.keySerde, undefined);
  }

  peek(action: (key: K, value: V) => void, named?: Named): KStream<K, V> {
    return this.stateless<K, V>('KSTREAM-PEEK', named, (r, forward) => {
      action(r.key, r.value);
      forward(r);
    }, false, this.keySerde, this.valueSerde);
  }

  /**
   * Routes each record to the first branch whose predicate matches (Kafka Streams' split()).
   * A record matching none goes to the branch named "default" when one is given with a
   * predicate that always answers true, and is dropped otherwise.
   */
  split(branches: Array<Branch<K, V>>, named?: Named): Map<string, KStream<K, V>> {
    const prefix = named?.name ?? this.builder.names.next('KSTREAM-BRANCH');
    const splitName = `${prefix}`;
    const childNames = branches.map((branch) => `${prefix}-${branch.name}`);
    const supplier: ProcessorSupplier<K, V, K, V> = () => {
      let forwardTo: (record: StreamRecord<K, V>, child: string) => void = () => undefined;
      return {
        init: (context) => {
          forwardTo = (record, child) => context.forward(record, child);
        },
        process: (record) => {
          const index = branches.findIndex((branch) => branch.predicate(record.key, record.value));
          if (index >= 0) forwardTo(record, childNames[index]!);
        },
      };
    };
    this.builder.topology.addProcessor(splitName, supplier, this.nodeName);
    const result = new Map<string, KStream<K, V>>();
    branches.forEach((branch, index) => {
      this.builder.topology.addProcessor(childNames[index]!, () => new StatelessProcessor<K, V, K, V>((r, forward) => forward(r)), splitName);
      result.set(branch.name, new KStream(this.builder, childNames[index]!, this.keySerde, this.valueSerde, this.repartitionRequired));
    });
    return result;
  }

  merge(other: KStream<K, V>, named?: Named): KStream<K, V> {
    const name = named?.name ?? this.builder.names.next('KSTREAM-MERGE');
    this.builder.topology.addProcessor(name, () => new StatelessProcessor<K, V, K, V>((r, forward) => forward(r)), this.nodeName, other.nodeName);
    return new KStream(this.builder, name, this.keySerde, this.valueSerde, this.repartitionRequired || other.repartitionRequired);
  }

  /**
   * Says the stream is partitioned as wanted although a key-changing operation came before, so
   * grouping or joining after it needs no repartition topic (Kafka Streams' markAsPartitioned,
   * KIP-759). Adds no node. For keys the producer already partitioned by: e.g. a parse step that
   * reads the key from the value when the landing key is that same value.
   */
  markAsPartitioned(): KStream<K, V> {
    return this.repartitionRequired ? new KStream<K, V>(this.builder, this.nodeName, this.keySerde, this.valueSerde, false) : this;
  }

  /** A custom Processor API node, connected to the named stores (added with StreamsBuilder.addStateStore). */
  process<K2, V2>(supplier: ProcessorSupplier<K, V, K2, V2>, options: Named & { stores?: string[] } = {}): KStream<K2, V2> {
    const name = options.name ?? this.builder.names.next('KSTREAM-PROCESSOR');
    this.builder.topology.addProcessor(name, supplier, this.nodeName);
    for (const store of options.stores ?? []) this.builder.topology.connectProcessorAndStateStores(store, name);
    return new KStream<K2, V2>(this.builder, name, undefined, undefined, true);
  }

  /**
   * A custom Processor API node that keeps each record's key (Kafka Streams' processValues): it
   * may change values, drop or multiply records, but forwards them under the key they came with,
   * so a groupByKey() after it needs no repartition topic (after process() it does).
   */
  processValues<V2>(supplier: FixedKeyProcessorSupplier<K, V, V2>, options: Named & { stores?: string[] } = {}): KStream<K, V2> {
    const name = options.name ?? this.builder.names.next('KSTREAM-PROCESSVALUES');
    // At runtime a FixedKeyRecord is a StreamRecord (its brand is a type only) and the context is the same object.
    this.builder.topology.addProcessor(name, supplier as unknown as ProcessorSupplier<K, V, K, V2>, this.nodeName);
    for (const store of options.stores ?? []) this.builder.topology.connectProcessorAndStateStores(store, name);
    return new KStream<K, V2>(this.builder, name, this.keySerde, undefined, this.repartitionRequired);
  }

  /** Writes to a topic, or to the topic the extractor picks per record. */
  to(topic: string | TopicNameExtractor<K, V>, produced: Produced<K, V> = {}): void {
    const name = produced.name ?? this.builder.names.next('KSTREAM-SINK');
    this.builder.topology.addSink(
      name,
      topic,
      {
        keySerde: requireKeySerde(produced.keySerde ?? this.keySerde ?? (stringSerde as unknown as Serde<K>), name),
        valueSerde: produced.valueSerde ?? this.valueSerde ?? jsonSerde<V>(),
        partitioner: produced.streamPartitioner,
      },
      this.nodeName,
    );
  }

  /**
   * Writes through an internal topic keyed by the current key, so each key lands in one task
   * (Kafka Streams' KStreamImpl.repartition): `<app>-<name>-repartition`, with
   * Repartitioned.numberOfPartitions partitions when given.
   */
  repartition(options: Repartitioned<K, V> = {}): KStream<K, V> {
    validateRepartitioned(options as Repartitioned<unknown, unknown>);
    const base = options.name ?? this.builder.names.next('KSTREAM-REPARTITION');
    const topic = `${base}-repartition`;
    const keySerde = requireKeySerde(options.keySerde ?? this.keySerde ?? (stringSerde as unknown as Serde<K>), `${base}-sink`);
    const valueSerde = options.valueSerde ?? this.valueSerde ?? jsonSerde<V>();
    this.builder.topology.addInternalTopic(topic, options.numberOfPartitions);
    // Null keys are dropped on the way in, as Kafka Streams' repartition filter does.
    this.builder.topology.addSink(`${base}-sink`, topic, { keySerde, valueSerde, internal: true, partitioner: options.streamPartitioner, dropsNullKeys: true }, this.nodeName);
    this.builder.topology.addSource(`${base}-source`, [topic], { keySerde, valueSerde, internal: true });
    return new KStream(this.builder, `${base}-source`, keySerde, valueSerde, false);
  }

  groupByKey(grouped: Grouped<K, V> = {}): KGroupedStream<K, V> {
    const stream = this.repartitionRequired ? this.repartition(grouped) : this;
    return new KGroupedStream(stream, grouped.keySerde ?? stream.keySerde, grouped.valueSerde ?? stream.valueSerde);
  }

  groupBy<K2>(selector: (key: K, value: V) => K2, grouped: Grouped<K2, V> = {}): KGroupedStream<K2, V> {
    return this.selectKey(selector).groupByKey(grouped);
  }

  /** This stream read as a changelog: the latest value per key (Kafka Streams' toTable()). */
  toTable(materialized: TableMaterialized<V> = {}): KTable<K, V> {
    return streamToTable(this, materialized);
  }

  /**
   * Inner join with a co-partitioned table: records whose key is not in the table are dropped (and
   * counted). With another stream and JoinWindows: a windowed stream-stream join (StreamStreamJoin.ts).
   */
  join<V2, R>(table: KTable<K, V2>, joiner: ValueJoiner<V, V2, R>, named?: Named): KStream<K, R>;
  join<V2, R>(other: KStream<K, V2>, joiner: ValueJoiner<V, V2, R>, windows: JoinWindows, joined?: StreamJoined<K, V, V2>): KStream<K, R>;
  join<V2, R>(other: KTable<K, V2> | KStream<K, V2>, joiner: ValueJoiner<V, V2, R>, third?: Named | JoinWindows, joined?: StreamJoined<K, V, V2>): KStream<K, R> {
    if (other instanceof KStream) return streamStreamJoin(this, other, joiner as ValueJoiner<V | undefined, V2 | undefined, R>, third as JoinWindows, joined);
    return this.joinTable(other, joiner as ValueJoiner<V, V2 | undefined, R>, false, third as Named | undefined);
  }

  /**
   * Left join with a co-partitioned table: misses pass with an undefined right side (and are counted).
   * With another stream and JoinWindows: a record without a partner is emitted with an undefined
   * right side once its window has closed (StreamStreamJoin.ts).
   */
  leftJoin<V2, R>(table: KTable<K, V2>, joiner: ValueJoiner<V, V2 | undefined, R>, named?: Named): KStream<K, R>;
  leftJoin<V2, R>(other: KStream<K, V2>, joiner: ValueJoiner<V, V2 | undefined, R>, windows: JoinWindows, joined?: StreamJoined<K, V, V2>): KStream<K, R>;
  leftJoin<V2, R>(other: KTable<K, V2> | KStream<K, V2>, joiner: ValueJoiner<V, V2 | undefined, R>, third?: Named | JoinWindows, joined?: StreamJoined<K, V, V2>): KStream<K, R> {
    if (other instanceof KStream) return streamStreamJoin(this, other, joiner as ValueJoiner<V | undefined, V2 | undefined, R>, third as JoinWindows, joined, 'left');
    return this.joinTable(other, joiner, true, third as Named | undefined);
  }

  /** Windowed stream-stream outer join: records of either side without a partner are emitted, with an undefined partner, once their window has closed. */
  outerJoin<V2, R>(other: KStream<K, V2>, joiner: ValueJoiner<V | undefined, V2 | undefined, R>, windows: JoinWindows, joined?: StreamJoined<K, V, V2>): KStream<K, R> {
    return streamStreamJoin(this, other, joiner, windows, joined, 'outer');
  }

  private joinTable<V2, R>(table: KTable<K, V2>, joiner: ValueJoiner<V, V2 | undefined, R>, left: boolean, named?: Named): KStream<K, R> {
    const stream = this.repartitionRequired ? this.repartition() : this;
    const name = named?.name ?? this.builder.names.next('KSTREAM-JOIN');
    this.builder.topology.addProcessor(name, () => new StreamTableJoinProcessor<K, V, V2, R>(table.storeName, joiner, left), stream.nodeName);
    this.builder.topology.connectProcessorAndStateStores(table.storeName, name);
    return new KStream<K, R>(this.builder, name, stream.keySerde, undefined, false);
  }

  joinGlobal<GK, V2, R>(table: GlobalKTable<GK, V2>, keySelector: (key: K, value: V) => GK | null | undefined, joiner: ValueJoiner<V, V2, R>, named?: Named): KStream<K, R> {
    return this.joinGlobalTable(table, keySelector, joiner as ValueJoiner<V, V2 | undefined, R>, false, named);
  }

  leftJoinGlobal<GK, V2, R>(table: GlobalKTable<GK, V2>, keySelector: (key: K, value: V) => GK | null | undefined, joiner: ValueJoiner<V, V2 | undefined, R>, named?: Named): KStream<K, R> {
    return this.joinGlobalTable(table, keySelector, joiner, true, named);
  }

  private joinGlobalTable<GK, V2, R>(
    table: GlobalKTable<GK, V2>,
    keySelector: (key: K, value: V) => GK | null | undefined,
    joiner: ValueJoiner<V, V2 | undefined, R>,
    left: boolean,
    named?: Named,
  ): KStream<K, R> {
    const name = named?.name ?? this.builder.names.next('KSTREAM-GLOBALJOIN');
    this.builder.topology.addProcessor(name, () => new StreamGlobalTableJoinProcessor<K, V, GK, V2, R>(table.storeName, keySelector, joiner, left), this.nodeName);
    return new KStream<K, R>(this.builder, name, this.keySerde, undefined, this.repartitionRequired);
  }
}

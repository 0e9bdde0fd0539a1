import type { Serde } from '../state/Serde.js';
import type { ProcessorSupplier } from './processor/Processor.js';
import type { StreamRecord } from './processor/Record.js';
import type { StoreBuilder } from '../state/StoreBuilder.js';
import { assignSubtopologies, type Subtopology } from './Subtopologies.js';
import { describeTopology } from './TopologyDescription.js';

export type TimestampExtractor = (key: Buffer | null, value: Buffer | null, logTimestamp: number) => number;

/** Chooses the output topic per record (Kafka Streams' TopicNameExtractor). */
export type TopicNameExtractor<K, V> = (record: StreamRecord<K, V>) => string;

export interface SourceNode {
  kind: 'source';
  name: string;
  /** Topic names as given; internal topics get the application id prefix at build time. */
  topics: string[];
  internal: boolean;
  keySerde: Serde<unknown>;
  valueSerde: Serde<unknown>;
  timestampExtractor?: TimestampExtractor;
}

export interface ProcessorNodeDef {
  kind: 'processor';
  name: string;
  supplier: ProcessorSupplier<unknown, unknown, unknown, unknown>;
  parents: string[];
  stores: string[];
}

/**
 * Kafka Streams' StreamPartitioner.partitions(topic, key, value, numPartitions): the partitions
 * a record goes to. null or undefined (Optional.empty()): the default partitioner, murmur2 of
 * the key bytes; an empty array: the record goes nowhere; several: one copy to each (multicast).
 */
export type StreamPartitioner<K, V> = {
  // Method syntax: bivariant parameters, so a KStream<K, V> stays assignable to KStream<unknown, unknown>.
  partitions(topic: string, key: K, value: V, numPartitions: number): number[] | null | undefined;
}['partitions'];

export interface SinkNode {
  kind: 'sink';
  name: string;
  topic: string | TopicNameExtractor<unknown, unknown>;
  internal: boolean;
  keySerde: Serde<unknown>;
  valueSerde: Serde<unknown>;
  parents: string[];
  partitioner?: StreamPartitioner<unknown, unknown>;
  /** The sink topic's partition count, set by the topic planner for a sink with a partitioner. */
  partitionCount?: number;
  /** A repartition topic's sink: records with a null key are dropped (Kafka Streams' repartition filter). */
  dropsNullKeys?: boolean;
}

/**
 * The partitions a sink with a partitioner sends a record to; undefined for the default
 * partitioner (no explicit partition). A partition outside the topic fails the record. count:
 * the topic's partition count, the planned one for a fixed topic; a TopicNameExtractor's topic
 * passes the count the commit looked up (runtime/DeferredPlacement.ts).
 */
export function sinkPartitions(sink: SinkNode, topic: string, key: unknown, value: unknown, count = sink.partitionCount): number[] | undefined {
  if (sink.dropsNullKeys && (key === null || key === undefined)) return [];
  if (!sink.partitioner) return undefined;
  if (count === undefined) throw new Error(`sink "${sink.name}": the partition count of "${topic}" is not known (the topology was not planned)`);
  const chosen = sink.partitioner(topic, key, value, count);
  if (chosen === null || chosen === undefined) return undefined;
  for (const partition of chosen) {
    if (!(Number.isInteger(partition) && partition >= 0 && partition < count)) {
      throw new RangeError(`sink "${sink.name}": the partitioner chose partition ${partition} of "${topic}", which has ${count}`);
    }
  }
  return [...new Set(chosen)];
}

export type NodeDef = SourceNode | ProcessorNodeDef | SinkNode;

/**
 * A global store materializes every partition of its topic: each record is applied as a put of
 * its key and value (null deletes), exactly as a changelog is restored. The store's serdes must
 * therefore match the topic's.
 */
export interface GlobalStoreDef {
  store: StoreBuilder;
  topic: string;
}

/** Internal topics a DSL operation asked for (repartition), with their partition count if fixed. */
export interface InternalTopicDef {
  name: string;
  partitions?: number;
  /**
   * Sized like the other topics of the sub-topology reading it, not like the one writing it
   * (Kafka Streams' copartitionSources): a foreign-key join's registration topic is read beside
   * the right table, its response topic beside the left table.
   */
  copartitioned?: boolean;
}

/**
 * The Processor API topology: a graph of named sources, processors and sinks with the stores
 * they use. The DSL (topology/dsl/) only ever calls these methods.
 */
export class Topology {
  private readonly nodes = new Map<string, NodeDef>();
  private readonly stores = new Map<string, StoreBuilder>();
  private readonly globalStores: GlobalStoreDef[] = [];
  private readonly internalTopics = new Map<string, InternalTopicDef>();

  addSource<K, V>(
    name: string,
    topics: string[],
    options: { keySerde: Serde<K>; valueSerde: Serde<V>; timestampExtractor?: TimestampExtractor; internal?: boolean },
  ): this {
    this.claimName(name);
    if (topics.length === 0) throw new Error(`source "${name}" needs at least one topic`);
    this.nodes.set(name, {
      kind: 'source',
      name,
      topics,
      internal: options.internal ?? false,
      keySerde: options.keySerde as Serde<unknown>,
      valueSerde: options.valueSerde as Serde<unknown>,
      timestampExtractor: options.timestampExtractor,
    });
    return this;
  }

  addProcessor<KIn, VIn, KOut, VOut>(
    name: string,
    supplier: ProcessorSupplier<KIn, VIn, KOut, VOut>,
    ...parentNames: string[]
  ): this {
    this.claimName(name);
    this.requireParents(name, parentNames);
    this.nodes.set(name, {
      kind: 'processor',
      name,
      supplier: supplier as ProcessorSupplier<unknown, unknown, unknown, unknown>,
      parents: parentNames,
      stores: [],
    });
    return this;
  }

  addSink<K, V>(
    name: string,
    topic: string | TopicNameExtractor<K, V>,
    options: { keySerde: Serde<K>; valueSerde: Serde<V>; internal?: boolean; partitioner?: StreamPartitioner<K, V>; dropsNullKeys?: boolean },
    ...parentNames: string[]
  ): this {
    this.claimName(name);
    this.requireParents(name, parentNames);
    this.nodes.set(name, {
      kind: 'sink',
      name,
      topic: topic as string | TopicNameExtractor<unknown, unknown>,
      internal: options.internal ?? false,
      keySerde: options.keySerde as Serde<unknown>,
      valueSerde: options.valueSerde as Serde<unknown>,
      parents: parentNames,
      partitioner: options.partitioner as StreamPartitioner<unknown, unknown> | undefined,
      dropsNullKeys: options.dropsNullKeys,
    });
    return this;
  }

  /** Registers a store and connects it to processors (they must be in one sub-topology). */
  addStateStore(builder: StoreBuilder, ...processorNames: string[]): this {
    if (this.stores.has(builder.name) && this.stores.get(builder.name) !== builder) {
      throw new Error(`a different store named "${builder.name}" is already registered`);
    }
    this.stores.set(builder.name, builder);
    this.connectProcessorAndStateStores(builder.name, ...processorNames);
    return this;
  }

  connectProcessorAndStateStores(storeName: string, ...processorNames: string[]): this {
    if (!this.stores.has(storeName)) throw new Error(`unknown store "${storeName}"`);
    for (const processorName of processorNames) {
      const node = this.nodes.get(processorName);
      if (!node || node.kind !== 'processor') throw new Error(`"${processorName}" is not a processor`);
      if (!node.stores.includes(storeName)) node.stores.push(storeName);
    }
    return this;
  }

  /**
   * A store every instance holds in full, fed from all partitions of a topic (reference data).
   * Its topic is its changelog: it has no changelog of its own.
   */
  addGlobalStore(store: StoreBuilder, topic: string): this {
    if (this.stores.has(store.name) || this.globalStores.some((g) => g.store.name === store.name)) {
      throw new Error(`a store named "${store.name}" is already registered`);
    }
    this.globalStores.push({ store, topic });
    return this;
  }

  addInternalTopic(name: string, partitions?: number, options: { copartitioned?: boolean } = {}): this {
    this.internalTopics.set(name, { name, partitions, copartitioned: options.copartitioned });
    return this;
  }

  node(name: string): NodeDef | undefined {
    return this.nodes.get(name);
  }

  allNodes(): NodeDef[] {
    return [...this.nodes.values()];
  }

  storeBuilder(name: string): StoreBuilder {
    const builder = this.stores.get(name) ?? this.globalStores.find((g) => g.store.name === name)?.store;
    if (!builder) throw new Error(`unknown store "${name}"`);
    return builder;
  }

  allStores(): StoreBuilder[] {
    return [...this.stores.values()];
  }

  allGlobalStores(): GlobalStoreDef[] {
    return [...this.globalStores];
  }

  allInternalTopics(): InternalTopicDef[] {
    return [...this.internalTopics.values()];
  }

  childrenOf(name: string): string[] {
    const children: string[] = [];
    for (const node of this.nodes.values()) {
      if (node.kind !== 'source' && node.parents.includes(name)) children.push(node.name);
    }
    return children;
  }

  subtopologies(): Subtopology[] {
    return assignSubtopologies(this);
  }

  describe(applicationId?: string): string {
    return describeTopology(this, applicationId);
  }

  private claimName(name: string): void {
    if (!name) throw new Error('node names must not be empty');
    if (this.nodes.has(name)) {
      throw new Error(`a node named "${name}" already exists in this topology`);
    }
  }

  private requireParents(name: string, parentNames: string[]): void {
    if (parentNames.length === 0) throw new Error(`"${name}" needs at least one parent`);
    for (const parent of parentNames) {
      const node = this.nodes.get(parent);
      if (!node) throw new Error(`"${name}" names unknown parent "${parent}"`);
      if (node.kind === 'sink') throw new Error(`"${name}" cannot have sink "${parent}" as parent`);
    }
  }
}

/** Internal topics (repartition) are named after the application, as Kafka Streams does. */
export function resolveTopicName(applicationId: string, topic: string, internal: boolean): string {
  return internal ? `${applicationId}-${topic}` : topic;
}

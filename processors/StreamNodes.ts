import { KStream } from '../topology/index.js';
import type { ProcessorSupplier } from '../topology/index.js';

/**
 * Adds a Processor API node that keeps the record key (and its partition) unchanged.
 *
 * KStream.process() must assume a custom processor may change keys, so a groupByKey() after it
 * goes through a repartition topic. Our processors (dedupe, enrich, filter, route) never change
 * the key: declaring so saves a repartition topic per downstream aggregation.
 */
export function processKeepingKey<K, V, V2>(
  stream: KStream<K, V>,
  name: string,
  supplier: ProcessorSupplier<K, V, K, V2>,
  stores: string[] = [],
): KStream<K, V2> {
  const topology = stream.builder.topology;
  topology.addProcessor(name, supplier, stream.nodeName);
  for (const store of stores) topology.connectProcessorAndStateStores(store, name);
  return new KStream<K, V2>(stream.builder, name, stream.keySerde, undefined, stream.repartitionRequired);
}

/** The processor node that owns a store (to find the node name a DSL operation chose, e.g. for late counts). */
export function processorOwningStore(stream: KStream<unknown, unknown>, storeName: string): string | undefined {
  for (const node of stream.builder.topology.allNodes()) {
    if (node.kind === 'processor' && node.stores[0] === storeName) return node.name;
  }
  return undefined;
}

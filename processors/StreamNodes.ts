import type { KStream } from '../topology/index.js';

/** The processor node that owns a store (to find the node name a DSL operation chose, e.g. for late counts). */
export function processorOwningStore(stream: KStream<unknown, unknown>, storeName: string): string | undefined {
  for (const node of stream.builder.topology.allNodes()) {
    if (node.kind === 'processor' && node.stores[0] === storeName) return node.name;
  }
  return undefined;
}

import type { NodeDef, Topology } from './Topology.js';

/**
 * A connected part of the topology: nodes joined by parent edges or by a shared store. Each
 * sub-topology runs as one task per partition of its source topics (which must therefore have
 * equal partition counts: co-partitioning). Repartition topics cut the graph: the sink writing
 * one ends a sub-topology and the source reading it starts another.
 */
export interface Subtopology {
  id: number;
  nodes: NodeDef[];
  /** Source topics as declared (internal ones still unprefixed). */
  sourceTopics: Array<{ topic: string; internal: boolean }>;
  stores: string[];
}

export function assignSubtopologies(topology: Topology): Subtopology[] {
  const nodes = topology.allNodes();
  const parent = new Map<string, string>();
  const find = (name: string): string => {
    let root = name;
    while (parent.get(root) !== root) root = parent.get(root)!;
    parent.set(name, root);
    return root;
  };
  const union = (a: string, b: string) => {
    const rootA = find(a);
    const rootB = find(b);
    if (rootA !== rootB) parent.set(rootB, rootA);
  };
  for (const node of nodes) parent.set(node.name, node.name);
  const storeOwner = new Map<string, string>();
  for (const node of nodes) {
    if (node.kind !== 'source') for (const p of node.parents) union(p, node.name);
    if (node.kind === 'processor') {
      for (const store of node.stores) {
        const owner = storeOwner.get(store);
        if (owner) union(owner, node.name);
        else storeOwner.set(store, node.name);
      }
    }
  }

  // Number sub-topologies in the order their first node was added, as Kafka Streams does.
  const byRoot = new Map<string, NodeDef[]>();
  for (const node of nodes) {
    const root = find(node.name);
    const group = byRoot.get(root) ?? [];
    group.push(node);
    byRoot.set(root, group);
  }
  const result: Subtopology[] = [];
  for (const group of byRoot.values()) {
    const sources = group.filter((n) => n.kind === 'source');
    if (sources.length === 0) {
      throw new Error(`nodes ${group.map((n) => n.name).join(', ')} are not connected to any source`);
    }
    const sourceTopics = sources.flatMap((s) => (s.kind === 'source' ? s.topics.map((topic) => ({ topic, internal: s.internal })) : []));
    const stores = [...new Set(group.flatMap((n) => (n.kind === 'processor' ? n.stores : [])))];
    result.push({ id: result.length, nodes: group, sourceTopics, stores });
  }
  return result;
}

import type { Topology } from './Topology.js';

/**
 * The topology as text, laid out like Kafka Streams' TopologyDescription, and as a Mermaid
 * graph for docs and the CLI. Internal topic names are shown with their application id prefix
 * when one is given.
 */
export function describeTopology(topology: Topology, applicationId = '<app-id>'): string {
  const lines = ['Topologies:'];
  for (const sub of topology.subtopologies()) {
    lines.push(`   Sub-topology: ${sub.id}`);
    for (const node of sub.nodes) {
      const children = topology.childrenOf(node.name);
      if (node.kind === 'source') {
        const topics = node.topics.map((t) => (node.internal ? `${applicationId}-${t}` : t));
        lines.push(`    Source: ${node.name} (topics: [${topics.join(', ')}])`);
      } else if (node.kind === 'processor') {
        lines.push(`    Processor: ${node.name} (stores: [${node.stores.join(', ')}])`);
      } else {
        const topic = typeof node.topic === 'string' ? (node.internal ? `${applicationId}-${node.topic}` : node.topic) : '<chosen per record>';
        lines.push(`    Sink: ${node.name} (topic: ${topic})`);
      }
      if (children.length) lines.push(`      --> ${children.join(', ')}`);
      if (node.kind !== 'source') lines.push(`      <-- ${node.parents.join(', ')}`);
    }
    for (const store of sub.stores) lines.push(`    Store: ${store} (changelog: ${applicationId}-${store}-changelog)`);
  }
  const globals = topology.allGlobalStores();
  if (globals.length) {
    lines.push('   Global stores:');
    for (const global of globals) lines.push(`    GlobalStore: ${global.store.name} (topic: ${global.topic})`);
  }
  return lines.join('\n');
}

function mermaidId(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}

export function topologyMermaid(topology: Topology, applicationId = 'app'): string {
  const lines = ['graph TD'];
  const topicNode = (topic: string) => `t_${mermaidId(topic)}[("${topic}")]`;
  for (const sub of topology.subtopologies()) {
    lines.push(`  subgraph sub${sub.id}["Sub-topology ${sub.id}"]`);
    for (const node of sub.nodes) {
      const label = node.kind === 'processor' ? `${node.name}` : `${node.kind}: ${node.name}`;
      lines.push(`    ${mermaidId(node.name)}["${label}"]`);
    }
    lines.push('  end');
    for (const node of sub.nodes) {
      if (node.kind === 'source') {
        for (const topic of node.topics) lines.push(`  ${topicNode(node.internal ? `${applicationId}-${topic}` : topic)} --> ${mermaidId(node.name)}`);
      } else {
        for (const parent of node.parents) lines.push(`  ${mermaidId(parent)} --> ${mermaidId(node.name)}`);
        if (node.kind === 'processor') {
          for (const store of node.stores) {
            lines.push(`  ${mermaidId(node.name)} -.- s_${mermaidId(store)}[("store: ${store}")]`);
            lines.push(`  s_${mermaidId(store)} -.-> ${topicNode(`${applicationId}-${store}-changelog`)}`);
          }
        }
        if (node.kind === 'sink') {
          const topic = typeof node.topic === 'string' ? (node.internal ? `${applicationId}-${node.topic}` : node.topic) : 'topic chosen per record';
          lines.push(`  ${mermaidId(node.name)} --> ${topicNode(topic)}`);
        }
      }
    }
  }
  for (const global of topology.allGlobalStores()) {
    lines.push(`  ${topicNode(global.topic)} --> g_${mermaidId(global.store.name)}[("global store: ${global.store.name}")]`);
  }
  return lines.join('\n');
}

/**
 * A V8 heap snapshot (the .heapsnapshot JSON that `worker.getHeapSnapshot()` and DevTools write)
 * summarised as text: bytes by constructor (self size), the objects that retain the most (their
 * dominator subtree, as DevTools' "retained size") with the path that holds them, and retained
 * bytes by constructor. Dominators by Lengauer-Tarjan over typed arrays (weak edges ignored), so a
 * snapshot of a few million nodes takes seconds.
 */

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const MB = 2 ** 20;

export function summariseHeapSnapshot(heap: HeapSnapshot, top = 25): string {
  const meta = heap.snapshot.meta;
  const nodeFields = meta.node_fields.length;
  const edgeFields = meta.edge_fields.length;
  const typeAt = meta.node_fields.indexOf('type');
  const nameAt = meta.node_fields.indexOf('name');
  const sizeAt = meta.node_fields.indexOf('self_size');
  const edgeCountAt = meta.node_fields.indexOf('edge_count');
  const edgeTypeAt = meta.edge_fields.indexOf('type');
  const edgeNameAt = meta.edge_fields.indexOf('name_or_index');
  const edgeToAt = meta.edge_fields.indexOf('to_node');
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const weakEdge = edgeTypes.indexOf('weak');
  const { nodes, edges, strings } = heap;
  const count = nodes.length / nodeFields;

  const firstEdge = new Int32Array(count + 1);
  for (let i = 0; i < count; i++) firstEdge[i + 1] = firstEdge[i]! + nodes[i * nodeFields + edgeCountAt]! * edgeFields;
  const selfSize = (i: number) => nodes[i * nodeFields + sizeAt]!;
  const group = (i: number): string => {
    const type = nodeTypes[nodes[i * nodeFields + typeAt]!]!;
    const name = strings[nodes[i * nodeFields + nameAt]!]!;
    if (type === 'object' || type === 'closure' || type === 'native' || type === 'regexp') return type === 'closure' ? `${name}()` : name;
    if (type.endsWith('string')) return '(string)';
    if (type === 'array' || type === 'hidden') return `(${type}) ${name.slice(0, 40)}`;
    return `(${type})`;
  };
  const strong = (edge: number) => edges[edge + edgeTypeAt] !== weakEdge;
  const target = (edge: number) => edges[edge + edgeToAt]! / nodeFields;

  // Depth-first preorder from the root (node 0) over strong edges.
  const order = new Int32Array(count).fill(-1); // preorder number, -1: unreachable
  const vertex = new Int32Array(count);
  const parent = new Int32Array(count).fill(-1);
  let reached = 0;
  {
    const stack = new Int32Array(count);
    const nextEdge = new Int32Array(count);
    let depth = 0;
    stack[0] = 0;
    order[0] = reached;
    vertex[reached++] = 0;
    nextEdge[0] = firstEdge[0]!;
    while (depth >= 0) {
      const v = stack[depth]!;
      const edge = nextEdge[v]!;
      if (edge >= firstEdge[v + 1]!) {
        depth--;
        continue;
      }
      nextEdge[v] = edge + edgeFields;
      if (!strong(edge)) continue;
      const w = target(edge);
      if (order[w] !== -1) continue;
      order[w] = reached;
      vertex[reached++] = w;
      parent[w] = v;
      nextEdge[w] = firstEdge[w]!;
      stack[++depth] = w;
    }
  }

  // Predecessors over strong edges between reached nodes, as CSR.
  const predStart = new Int32Array(count + 1);
  for (let v = 0; v < count; v++) {
    if (order[v] === -1) continue;
    for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += edgeFields) if (strong(e)) predStart[target(e) + 1]!++;
  }
  for (let i = 0; i < count; i++) predStart[i + 1]! += predStart[i]!;
  const preds = new Int32Array(predStart[count]!);
  const fill = predStart.slice(0, count);
  for (let v = 0; v < count; v++) {
    if (order[v] === -1) continue;
    for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += edgeFields) if (strong(e)) preds[fill[target(e)]!++] = v;
  }

  // Lengauer-Tarjan (simple link/eval with path compression); semi holds preorder numbers.
  const semi = Int32Array.from(order);
  const label = new Int32Array(count).map((_, i) => i);
  const ancestor = new Int32Array(count).fill(-1);
  const dom = new Int32Array(count).fill(-1);
  const bucketHead = new Int32Array(count).fill(-1);
  const bucketNext = new Int32Array(count).fill(-1);
  const path: number[] = [];
  const evaluate = (v: number): number => {
    if (ancestor[v] === -1) return v;
    let x = v;
    while (ancestor[ancestor[x]!] !== -1) {
      path.push(x);
      x = ancestor[x]!;
    }
    while (path.length > 0) {
      const y = path.pop()!;
      const a = ancestor[y]!;
      if (semi[label[a]!]! < semi[label[y]!]!) label[y] = label[a]!;
      ancestor[y] = ancestor[a]!;
    }
    return label[v]!;
  };
  for (let i = reached - 1; i >= 1; i--) {
    const w = vertex[i]!;
    for (let p = predStart[w]!; p < predStart[w + 1]!; p++) {
      const u = evaluate(preds[p]!);
      if (semi[u]! < semi[w]!) semi[w] = semi[u]!;
    }
    const s = vertex[semi[w]!]!;
    bucketNext[w] = bucketHead[s]!;
    bucketHead[s] = w;
    const pw = parent[w]!;
    ancestor[w] = pw;
    for (let v = bucketHead[pw]!; v !== -1; v = bucketNext[v]!) {
      const u = evaluate(v);
      dom[v] = semi[u]! < semi[v]! ? u : pw;
    }
    bucketHead[pw] = -1;
  }
  for (let i = 1; i < reached; i++) {
    const w = vertex[i]!;
    if (dom[w] !== vertex[semi[w]!]) dom[w] = dom[dom[w]!]!;
  }

  const retained = new Float64Array(count);
  for (let i = 0; i < reached; i++) retained[vertex[i]!] = selfSize(vertex[i]!);
  for (let i = reached - 1; i >= 1; i--) retained[dom[vertex[i]!]!]! += retained[vertex[i]!]!;

  const bySelf = new Map<string, { bytes: number; count: number }>();
  const byRetained = new Map<string, { bytes: number; count: number }>();
  let reachedBytes = 0;
  for (let i = 0; i < reached; i++) {
    const v = vertex[i]!;
    const name = group(v);
    reachedBytes += selfSize(v);
    const self = bySelf.get(name) ?? { bytes: 0, count: 0 };
    self.bytes += selfSize(v);
    self.count++;
    bySelf.set(name, self);
    // Retained by constructor: instances not held (dominated) by another instance of it.
    let held = false;
    for (let d = dom[v]!, hops = 0; d > 0 && hops < 64; d = dom[d]!, hops++) {
      if (group(d) === name) {
        held = true;
        break;
      }
    }
    if (!held && v !== 0) {
      const r = byRetained.get(name) ?? { bytes: 0, count: 0 };
      r.bytes += retained[v]!;
      r.count++;
      byRetained.set(name, r);
    }
  }

  const edgeName = (from: number, to: number): string => {
    for (let e = firstEdge[from]!; e < firstEdge[from + 1]!; e += edgeFields) {
      if (target(e) !== to) continue;
      const type = edgeTypes[edges[e + edgeTypeAt]!]!;
      const name = edges[e + edgeNameAt]!;
      return type === 'element' || type === 'hidden' ? `[${name}]` : `.${strings[name]}`;
    }
    return '~';
  };
  const holder = (v: number): string => {
    const chain: string[] = [];
    for (let x = v, hops = 0; x > 0 && hops < 10; x = dom[x]!, hops++) chain.push(`${group(x)}${dom[x]! >= 0 ? edgeName(dom[x]!, x) : ''}`);
    const top = chain.length > 0 ? chain.reverse() : [];
    // The chain's first object is held from several places (its dominator is the root): name a few.
    let first = v;
    for (let hops = 0; dom[first]! > 0 && hops < 9; hops++) first = dom[first]!;
    const retainers: string[] = [];
    for (let p = predStart[first]!; p < predStart[first + 1]! && retainers.length < 3; p++) retainers.push(`${group(preds[p]!)}${edgeName(preds[p]!, first)}`);
    return `${top.join(' > ')}${retainers.length > 0 ? `  (held by ${retainers.join(', ')})` : ''}`;
  };
  const row = ([name, { bytes, count: n }]: [string, { bytes: number; count: number }]) => `  ${(bytes / MB).toFixed(1).padStart(7)} MB ${String(n).padStart(8)}  ${name}`;
  const largest = Array.from({ length: reached }, (_, i) => vertex[i]!)
    .filter((v) => v !== 0 && group(v) !== '(synthetic)' && retained[v]! > 256 * 1024)
    .sort((a, b) => retained[b]! - retained[a]!);
  const shown: number[] = [];
  for (const v of largest) {
    // Skip an object whose dominator is already listed with nearly the same size (a chain of holders).
    if (shown.some((s) => retained[v]! > 0.9 * retained[s]! && isDominatedBy(v, s))) continue;
    shown.push(v);
    if (shown.length >= top) break;
  }
  function isDominatedBy(v: number, d: number): boolean {
    for (let x = dom[v]!; x > 0; x = dom[x]!) if (x === d) return true;
    return false;
  }
  // The dominator tree below the largest holders, children of one parent grouped by how they are held.
  const childStart = new Int32Array(count + 1);
  for (let i = 1; i < reached; i++) childStart[dom[vertex[i]!]! + 1]!++;
  for (let i = 0; i < count; i++) childStart[i + 1]! += childStart[i]!;
  const children = new Int32Array(Math.max(1, reached - 1));
  const childFill = childStart.slice(0, count);
  for (let i = 1; i < reached; i++) children[childFill[dom[vertex[i]!]!]!++] = vertex[i]!;
  const tree: string[] = [];
  const describe = (nodesHere: number[], depth: number): void => {
    if (depth > 5) return;
    const grouped = new Map<string, { bytes: number; members: number[] }>();
    for (const v of nodesHere) {
      for (let c = childStart[v]!; c < childStart[v + 1]!; c++) {
        const child = children[c]!;
        const edge = edgeName(v, child);
        const key = `${/^\[\d+\]$/.test(edge) ? '[]' : edge} ${group(child)}`;
        const entry = grouped.get(key) ?? { bytes: 0, members: [] };
        entry.bytes += retained[child]!;
        entry.members.push(child);
        grouped.set(key, entry);
      }
    }
    for (const [key, { bytes, members }] of [...grouped].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 6)) {
      if (bytes < MB) break;
      tree.push(`  ${'  '.repeat(depth)}${(bytes / MB).toFixed(1)} MB  ${key}${members.length > 1 ? ` x${members.length}` : ''}`);
      describe(members, depth + 1);
    }
  };
  tree.push(`  ${(retained[shown[0] ?? 0]! / MB).toFixed(1)} MB  ${shown[0] === undefined ? '' : group(shown[0])}`);
  if (shown[0] !== undefined) describe([shown[0]], 1);

  return [
    `dominator tree under the largest holder (children grouped by edge and constructor, >= 1 MB):`,
    ...tree,
    `heap snapshot: ${count} nodes, ${reached} reachable, ${(reachedBytes / MB).toFixed(1)} MB reachable`,
    `self size by constructor (top ${top}):`,
    ...[...bySelf].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top).map(row),
    `retained size by constructor (instances not held by another of theirs; top ${top}; overlapping across rows):`,
    ...[...byRetained].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top).map(row),
    `largest holders (retained MB, dominator path):`,
    ...shown.map((v) => `  ${(retained[v]! / MB).toFixed(1).padStart(7)} MB  ${holder(v)}`),
  ].join('\n');
}

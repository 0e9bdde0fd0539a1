/**
 * What one fetchWithTimestamp + putWithTimestamp pair costs on the timestamped window store the
 * DSL's windowed aggregations use (topology/dsl/TimestampedStores.ts), with no log and no task:
 * the aggregation's per-window step in isolation. For an A/B of the store facade between two
 * source trees (two `git worktree`s), run alternately in one process:
 *
 *   npx tsx bench/timestamped-stores.ts [pairs=200000] [--ab /path/to/treeA /path/to/treeB [rounds=6]]
 *
 * Prints ns per pair (main-thread CPU) per run and the median B/A ratio.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { median } from './lib/Percentiles.js';

const PAIRS = Number(process.argv[2] ?? 200_000);
const abAt = process.argv.indexOf('--ab');
const here = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const trees = abAt >= 0 ? [process.argv[abAt + 1]!, process.argv[abAt + 2]!] : [here];
const rounds = abAt >= 0 ? Number(process.argv[abAt + 3] ?? 6) : 1;

interface Tree {
  root: string;
  timestampedWindowStoreBuilder: typeof import('../topology/dsl/TimestampedStores.js').timestampedWindowStoreBuilder;
  jsonSerde: typeof import('../state/Serde.js').jsonSerde;
  stringSerde: typeof import('../state/Serde.js').stringSerde;
}

async function loadTree(root: string): Promise<Tree> {
  const load = (file: string) => import(pathToFileURL(path.join(root, file)).href);
  const [stores, serde] = await Promise.all([load('topology/dsl/TimestampedStores.ts'), load('state/Serde.ts')]);
  return { root, ...stores, ...serde } as Tree;
}

/** The aggregation's pattern: 40 keys × 5 hopping windows, each fetched then put, drained like commits every 5,000 pairs. */
async function runOnce(tree: Tree, pairs: number): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-timestamped-'));
  const store = tree.timestampedWindowStoreBuilder('agg', { windowSizeMs: 300_000, retentionMs: 86_400_000 }, tree.stringSerde, tree.jsonSerde<{ count: number }>()).build('bench') as unknown as {
    open(dir: string): Promise<unknown>;
    fetchWithTimestamp(key: string, start: number): { value: { count: number }; timestamp: number } | undefined;
    putWithTimestamp(key: string, value: { count: number }, timestamp: number, start: number): void;
    drainChangelog(partition: number, header: string): unknown[];
    flush(offset: number | undefined): Promise<void>;
    close(): Promise<void>;
  };
  await store.open(dir);
  const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
  const base = 1_700_000_000_000;
  let cpu = 0;
  let offset = 0;
  for (let done = 0; done < pairs; ) {
    const started = process.cpuUsage();
    const until = Math.min(pairs, done + 5000);
    for (; done < until; done++) {
      const key = keys[done % 40]!;
      const start = base + (Math.floor(done / 200) % 5) * 60_000;
      const old = store.fetchWithTimestamp(key, start);
      store.putWithTimestamp(key, { count: (old?.value.count ?? 0) + 1 }, base + done, start);
    }
    const used = process.cpuUsage(started);
    cpu += used.user + used.system;
    offset += store.drainChangelog(0, String(done)).length;
    await store.flush(offset);
  }
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return (cpu * 1000) / pairs;
}

const loaded = await Promise.all(trees.map(loadTree));
for (const tree of loaded) await runOnce(tree, 20_000); // warm-up
const ratios: number[] = [];
for (let round = 1; round <= rounds; round++) {
  const order = round % 2 === 1 ? loaded : [...loaded].reverse();
  const ns = new Map<string, number>();
  for (const tree of order) ns.set(tree.root, await runOnce(tree, PAIRS));
  for (const tree of loaded) console.log(JSON.stringify({ scenario: 'timestamped-stores', tree: tree.root, round, nsPerPair: Number(ns.get(tree.root)!.toFixed(0)), loadavg1: Number(os.loadavg()[0]!.toFixed(1)) }));
  if (loaded.length === 2) ratios.push(ns.get(loaded[1]!.root)! / ns.get(loaded[0]!.root)!);
}
if (ratios.length > 0) console.log(JSON.stringify({ rounds, ratioBOverA: { median: Number(median(ratios).toFixed(3)), all: ratios.map((r) => Number(r.toFixed(3))) } }));

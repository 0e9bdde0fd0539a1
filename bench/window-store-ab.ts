/**
 * The windowed aggregations' store traffic without the rest of the pipeline: per event, the
 * default pipeline's pattern of fetch → add (a new object) → put on a window store — a per-user
 * hourly window (5,000 users, mostly cold between commits), a system-wide 5-minute window
 * hopping by 1 minute (5 windows, one hot key) and a per-jurisdiction daily window (4 hot keys) —
 * with a commit (drainChangelog + flush) every 250 events, as the 100 ms commit interval gives
 * at a few thousand events/s per task.
 *
 *   npx tsx bench/window-store-ab.ts /path/to/treeA [/path/to/treeB] [blocks=20] [eventsPerBlock=10000]
 *
 * With two trees (e.g. `git worktree add` of two commits) their state/ modules run in this one
 * process in alternating blocks (A B B A A B ...), so both see the same machine load; prints the
 * median µs per event of each and the median of the per-pair B/A ratios.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [rootA, rootB] = process.argv.slice(2, 4).filter((a) => !/^\d+$/.test(a));
const numbers = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
const BLOCKS = numbers[0] ?? 20;
const EVENTS = numbers[1] ?? 10_000;
const COMMIT_EVERY = 250;
const HOUR = 3_600_000;
const MINUTE = 60_000;
const DAY = 86_400_000;

interface Stats {
  count: number;
  correct: number;
  by_type: Record<string, number>;
}

interface WindowStoreLike {
  open(dir: string): Promise<number | undefined>;
  put(key: string, value: Stats | null, windowStart: number): void;
  fetch(key: string, windowStart: number): Stats | undefined;
  advanceStreamTime(t: number): void;
  drainChangelog(partition: number, sourceOffset: string): unknown[];
  flush(offset: number | undefined): Promise<void>;
  close(): Promise<void>;
}

interface Variant {
  name: string;
  stores: WindowStoreLike[];
  changelogOffset: number;
  time: number;
  micros: number[];
}

async function variant(name: string, root: string, dir: string): Promise<Variant> {
  const load = (file: string) => import(pathToFileURL(path.join(root, file)).href);
  const [{ windowStore }, { jsonSerde, stringSerde }] = await Promise.all([load('state/Stores.ts'), load('state/Serde.ts')]);
  const specs = [
    { name: 'hourly', windowSizeMs: HOUR, retentionMs: 7 * DAY },
    { name: 'system', windowSizeMs: 5 * MINUTE, retentionMs: DAY },
    { name: 'daily', windowSizeMs: DAY, retentionMs: 35 * DAY },
  ];
  const stores: WindowStoreLike[] = [];
  for (const spec of specs) {
    const store = windowStore(spec.name, spec, stringSerde, jsonSerde()).build(`bench-${name}`) as WindowStoreLike;
    await store.open(path.join(dir, name));
    stores.push(store);
  }
  return { name, stores, changelogOffset: 0, time: Date.UTC(2026, 0, 5), micros: [] };
}

const add = (agg: Stats | undefined, correct: boolean, type: string): Stats => {
  const base = agg ?? { count: 0, correct: 0, by_type: {} };
  return { count: base.count + 1, correct: base.correct + (correct ? 1 : 0), by_type: { ...base.by_type, [type]: (base.by_type[type] ?? 0) + 1 } };
};

function update(store: WindowStoreLike, key: string, windowStart: number, correct: boolean, type: string): void {
  store.put(key, add(store.fetch(key, windowStart), correct, type), windowStart);
}

async function block(v: Variant): Promise<void> {
  const [hourly, system, daily] = v.stores as [WindowStoreLike, WindowStoreLike, WindowStoreLike];
  const started = process.hrtime.bigint();
  for (let i = 0; i < EVENTS; i++) {
    const t = (v.time += 5);
    const correct = i % 3 === 0;
    const type = i % 10 < 6 ? 'attempt' : i % 10 < 7 ? 'session' : 'product';
    for (const store of v.stores) store.advanceStreamTime(t);
    update(hourly, `user_${(i * 7919) % 5000}`, t - (t % HOUR), correct, type);
    const lastStart = t - (t % MINUTE);
    for (let start = lastStart - 4 * MINUTE; start <= lastStart; start += MINUTE) update(system, 'system', start, correct, type);
    update(daily, ['US', 'DE', 'IN', 'BR'][i % 4]!, t - (t % DAY), correct, type);
    if ((i + 1) % COMMIT_EVERY === 0) {
      for (const store of v.stores) {
        v.changelogOffset += store.drainChangelog(0, String(i)).length;
        await store.flush(v.changelogOffset);
      }
    }
  }
  v.micros.push(Number(process.hrtime.bigint() - started) / 1000 / EVENTS);
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-window-store-ab-'));
const variants = [await variant('A', rootA!, dir), ...(rootB ? [await variant('B', rootB, dir)] : [])];
const loadBefore = os.loadavg()[0]!;
// Warm-up block per variant (JIT), not counted.
for (const v of variants) {
  await block(v);
  v.micros.length = 0;
}
for (let b = 0; b < BLOCKS; b++) {
  // A B, then B A: neither always runs right after the other's garbage.
  for (const v of b % 2 === 0 ? variants : [...variants].reverse()) await block(v);
}
for (const v of variants) for (const store of v.stores) await store.close();
fs.rmSync(dir, { recursive: true, force: true });
const [a, b] = variants;
const ratios = b ? a!.micros.map((m, i) => b.micros[i]! / m) : [];
console.log(
  JSON.stringify({
    scenario: 'window-store-ab',
    blocks: BLOCKS,
    eventsPerBlock: EVENTS,
    A: { root: rootA, medianMicrosPerEvent: Number(median(a!.micros).toFixed(2)) },
    ...(b ? { B: { root: rootB, medianMicrosPerEvent: Number(median(b.micros).toFixed(2)) }, ratioBOverA: Number(median(ratios).toFixed(3)) } : {}),
    loadavg1: [Number(loadBefore.toFixed(2)), Number(os.loadavg()[0]!.toFixed(2))],
  }),
);

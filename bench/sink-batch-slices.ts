/**
 * The sink's per-batch CPU work on the shared thread, without chDB: map a batch of landing
 * records to rows (BatchRows) and build the insert payload literal (ChdbStore), as one
 * synchronous block (the old path: one slice holding every record, one sqlString over the
 * whole payload, which escaped it) and in slices with event-loop turns between them (the current path).
 * Prints total ms (and CPU ms: on a busy machine wall time mostly measures waiting for a core) and the longest stretch the event loop was held (a setImmediate ticker runs
 * alongside, as HTTP would), and checks both paths build the same literal.
 *
 *   npx tsx bench/sink-batch-slices.ts [records=10000] [repeats=5]
 */
import { batchRows } from '../sink/BatchRows.js';
import { jsonEachRowLiteral, rawStringLiteral, sqlString } from '../sink/ChdbStore.js';
import { defaultSinkRoutes } from '../sink/SinkConfig.js';
import type { LogRecord } from '../log/Log.js';

const count = Number(process.argv[2] ?? 10_000);
const repeats = Number(process.argv[3] ?? 5);
const routes = defaultSinkRoutes({ rawEvents: 'landing' }).filter((route) => route.topic === 'landing');
const now = Date.now();
const records: LogRecord[] = Array.from({ length: count }, (_, i) => ({
  topic: 'landing',
  partition: 0,
  offset: i,
  key: Buffer.from(`user-${i % 300}`),
  timestamp: now,
  headers: {},
  value: Buffer.from(
    JSON.stringify({
      event_id: `evt-${i}-0123456789abcdef`,
      event_type: 'product',
      source: 'seed004',
      received_at: now,
      payload: { event_name: 'product_view', channel: 'web', campaign_id: 'summer', user_id: `user-${i % 300}`, timestamp: now - i, tags: ["t1's"], metadata: { product_id: 'SKU\\1' } },
    }),
  ),
}));
const skip = () => undefined;

async function oldPath(): Promise<string[]> {
  const tables = await batchRows(routes, records, skip, Number.MAX_SAFE_INTEGER);
  return [...tables.values()].filter((rows) => rows.length > 0).map((rows) => sqlString(rows.map((row) => JSON.stringify(row)).join('\n')));
}

async function slicedPath(): Promise<string[]> {
  const tables = await batchRows(routes, records, skip);
  const out: string[] = [];
  for (const rows of tables.values()) if (rows.length > 0) out.push(await jsonEachRowLiteral(rows));
  return out;
}

async function timed(run: () => Promise<string[]>): Promise<{ totalMs: number; cpuMs: number; heldMs: number; literals: string[] }> {
  let last = performance.now();
  let held = 0;
  let ticking = true;
  const tick = () => {
    const at = performance.now();
    held = Math.max(held, at - last);
    last = at;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  await new Promise((resolve) => setImmediate(resolve));
  const start = performance.now();
  const cpu = process.cpuUsage();
  last = start;
  const literals = await run();
  const totalMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000;
  tick();
  ticking = false;
  return { totalMs, cpuMs, heldMs: held, literals };
}

// What the current path must build: the whole payload's text as a heredoc literal (rawStringLiteral).
const expected = [...(await batchRows(routes, records, skip, Number.MAX_SAFE_INTEGER)).values()]
  .filter((rows) => rows.length > 0)
  .map((rows) => rawStringLiteral(rows.map((row) => JSON.stringify(row)).join('\n')))
  .join();
for (let r = 1; r <= repeats; r++) {
  const a = await timed(oldPath);
  const b = await timed(slicedPath);
  if (b.literals.join() !== expected) throw new Error('the sliced path built a different payload');
  console.log(
    `${count} records, round ${r}: one block ${a.totalMs.toFixed(1)} ms total (${a.cpuMs.toFixed(0)} ms CPU), loop held ${a.heldMs.toFixed(1)} ms | ` +
      `sliced ${b.totalMs.toFixed(1)} ms total (${b.cpuMs.toFixed(0)} ms CPU), loop held at most ${b.heldMs.toFixed(1)} ms`,
  );
}

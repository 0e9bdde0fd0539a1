/**
 * The sink's CPU per event and its inserts per second (issue 13) for two sink trees, A/B in one
 * process: the same embedded log and chDB store, events produced open loop at a fixed rate into
 * a landing topic and a quarter as many window aggregates into an aggregates topic (the default
 * pipeline's two sink topics, every one with --partitions partitions), the default routes. Each
 * run gets its own topics and group; the rounds alternate the order of A and B.
 *
 * Measured per run, from the first record produced to every partition committed: process CPU
 * (user + system: the sink, chDB's threads, and the producer, the same for both sides) in µs per
 * landing event, and the store's inserts per second by table (a counting wrapper around it).
 *
 *   npx tsx bench/sink-rounds.ts --before DIR [--events N] [--rate N] [--partitions N] [--rounds N] [--linger MS]
 *     --before DIR   a source tree whose sink/ is B's baseline ("before"), e.g. `git archive` of
 *                    an older commit unpacked with node_modules linked; A is this tree
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEmbeddedLog } from '../log/embedded/index.js';
import { partitionKey, type Log, type TopicPartition } from '../log/Log.js';
import type { AnalyticsStore, InsertOptions, QueryParams, Row } from '../sink/AnalyticsStore.js';
import { ChdbStore } from '../sink/ChdbStore.js';
import type { ClickHouseSink as Sink, ClickHouseSinkOptions } from '../sink/ClickHouseSink.js';
import { migrate } from '../sink/Migrator.js';
import { defaultSinkRoutes } from '../sink/SinkConfig.js';
import { median } from './lib/Percentiles.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1]!);
const before = args.get('before');
if (!before) throw new Error('--before DIR is required');
const events = Number(args.get('events') ?? 20_000);
const rate = Number(args.get('rate') ?? 2_000);
const partitions = Number(args.get('partitions') ?? 4);
const rounds = Number(args.get('rounds') ?? 3);
const lingerMs = Number(args.get('linger') ?? 200);

/** Counts inserts per table, then inserts. */
class CountingStore implements AnalyticsStore {
  inserts = new Map<string, number>();
  constructor(private readonly inner: AnalyticsStore) {}
  get kind() {
    return this.inner.kind;
  }
  get database() {
    return this.inner.database;
  }
  get maxRowsPerInsert() {
    return this.inner.maxRowsPerInsert;
  }
  exec(sql: string, params?: QueryParams) {
    return this.inner.exec(sql, params);
  }
  query<T = Row>(sql: string, params?: QueryParams) {
    return this.inner.query<T>(sql, params);
  }
  insert(table: string, rows: readonly Row[], options: InsertOptions) {
    this.inserts.set(table, (this.inserts.get(table) ?? 0) + 1);
    return this.inner.insert(table, rows, options);
  }
  ping() {
    return this.inner.ping();
  }
  close() {
    return this.inner.close();
  }
}

type SinkClass = new (options: ClickHouseSinkOptions) => Sink;
const here = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const sides: Record<'A' | 'B', SinkClass> = {
  A: (await import(path.join(here, 'sink/ClickHouseSink.ts'))).ClickHouseSink,
  B: (await import(path.resolve(before, 'sink/ClickHouseSink.ts'))).ClickHouseSink,
};

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sink-rounds-'));
const log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
const chdb = await ChdbStore.open({ path: path.join(dir, 'chdb') });
await migrate(chdb, { eventsTtlDays: 0 });

function landingEvent(i: number, now: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      event_id: `evt-${i}-${now}`, event_type: 'product', source: 'seed004', received_at: now,
      payload: { event_name: ['product_view', 'add_to_cart', 'purchase'][i % 3], channel: ['web', 'mobile', 'api'][i % 3], user_id: `user-${i % 500}`, timestamp: now, tags: ['t'], metadata: { sku: `SKU-${i % 50}` } },
    }),
  );
}

function aggregate(i: number, now: number): Buffer {
  const start = now - (now % 60_000);
  return Buffer.from(JSON.stringify({ aggregator: 'events_per_user', key: `user-${i % 500}`, window_start: start, window_end: start + 60_000, count: i, sum: i, min: 0, max: i }));
}

async function caughtUp(groupId: string, tps: TopicPartition[]): Promise<boolean> {
  const committed = await log.committedOffsets(groupId, tps);
  for (const tp of tps) if ((committed.get(partitionKey(tp)) ?? 0) < (await log.endOffset(tp))) return false;
  return true;
}

async function run(side: 'A' | 'B', round: number): Promise<{ usPerEvent: number; insertsPerSecond: Record<string, number>; seconds: number }> {
  const raw = `raw-${side}-${round}`;
  const aggregates = `agg-${side}-${round}`;
  for (const topic of [raw, aggregates]) await log.ensureTopic(topic, { partitions });
  const tps = [raw, aggregates].flatMap((topic) => Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
  const store = new CountingStore(chdb);
  const sink = new sides[side]({ log: log as Log, store, routes: defaultSinkRoutes({ rawEvents: raw, aggregates }), groupId: `sink-${side}-${round}`, lingerMs });
  await sink.start();
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  const tickMs = 20;
  const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
  for (let sent = 0, tick = 0; sent < events; tick++) {
    const now = Date.now();
    const n = Math.min(perTick, events - sent);
    const records = Array.from({ length: n }, (_, j) => ({ topic: raw, key: Buffer.from(`user-${(sent + j) % 500}`), value: landingEvent(sent + j, now) }));
    for (let j = 0; j < n; j += 4) records.push({ topic: aggregates, key: Buffer.from(`user-${(sent + j) % 500}`), value: aggregate(sent + j, now) });
    await log.produce(records);
    sent += n;
    const wait = startedAt + (tick + 1) * tickMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  while (!(await caughtUp(`sink-${side}-${round}`, tps))) await new Promise((resolve) => setTimeout(resolve, 20));
  const seconds = (performance.now() - startedAt) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  await sink.stop();
  const insertsPerSecond = Object.fromEntries([...store.inserts].map(([table, n]) => [table, n / seconds]));
  insertsPerSecond.total = [...store.inserts.values()].reduce((sum, n) => sum + n, 0) / seconds;
  return { usPerEvent: (cpu.user + cpu.system) / events, insertsPerSecond, seconds };
}

const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`sink rounds A/B: A=${here} B=${path.resolve(before)}; ${events} landing events at ${rate}/s (+1 aggregate per 4), ${partitions} partitions a topic, linger ${lingerMs} ms, ${rounds} round(s); load ${load()}`);
const results: Record<'A' | 'B', Array<Awaited<ReturnType<typeof run>>>> = { A: [], B: [] };
for (let round = 1; round <= rounds; round++) {
  for (const side of round % 2 === 1 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
    const result = await run(side, round);
    results[side].push(result);
    const inserts = Object.entries(result.insertsPerSecond).map(([table, n]) => `${table} ${n.toFixed(1)}`).join(', ');
    console.log(`round ${round} ${side}: ${result.usPerEvent.toFixed(1)} µs CPU/event, ${result.seconds.toFixed(1)} s; inserts/s: ${inserts}; load ${load()}`);
  }
}
for (const side of ['A', 'B'] as const) {
  const mine = results[side];
  console.log(`median ${side}: ${median(mine.map((r) => r.usPerEvent)).toFixed(1)} µs CPU/event, ${median(mine.map((r) => r.insertsPerSecond.total!)).toFixed(1)} inserts/s`);
}
await log.close();
await chdb.close();
fs.rmSync(dir, { recursive: true, force: true });

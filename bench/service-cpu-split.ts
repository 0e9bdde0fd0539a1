/**
 * Where the whole service's CPU goes per event, thread by thread (issue 13): `npm start` on
 * embedded defaults (lib/NpmStartService: the start script, a fresh DATA_DIR, every role) under a
 * fixed offered load of seed 004 POST /events/bulk requests (open loop), and the CPU each thread
 * spent in a measured window after a warm-up, in µs per accepted event:
 * - the JavaScript threads by name (HTTP/main, log, stream-N, sink), from the service's own
 *   streamline_thread_cpu_seconds_total{thread} (each thread reads /proc/thread-self);
 * - the helper threads from /proc/<pid>/task/<tid>/stat: RocksDB's (by their names), chDB's (named
 *   after their ClickHouse pools), and Node's unnamed ones, which gdb (when installed) tells apart
 *   by their start routine: V8's platform workers (concurrent GC, compilation), libuv's thread
 *   pool (RocksDB's async reads and writes, fs), Node's own; without gdb they are one row.
 *
 *   npx tsx bench/service-cpu-split.ts [options]
 *     --tree DIR        a source tree to run (its `npm start`: dist/ built when stale); twice for
 *                       an A/B run (default: this repository)
 *     --rate N          offered events/s (default 2000)       --bulk N     events a request (100)
 *     --warmup S        seconds of load before the window (10) --seconds S  the window (30)
 *     --rounds N        rounds; with two trees each round runs both, the order alternating (1)
 *     --env K=V         extra service environment (e.g. STREAM_THREADS=1), repeatable
 *     --b-env K=V       environment for B only: with one tree, an A/B run of the same tree with
 *                       and without it (e.g. --b-env NODE_OPTIONS=--max-semi-space-size=16)
 *     --idle S          seconds of an idle window, measured before the loaded one (5; 0: none):
 *                       what each thread spends with no load (ms of CPU per second), so a row's
 *                       per-event figure can be told from its background work
 *     --no-gdb          do not attach gdb to classify Node's helper threads
 *     --json FILE       every run's figures as JSON
 *
 * The window holds exactly its events' work: before it and after it the load stops and the bench
 * waits until the topology's backlog and the sink's lag are both 0 (twice, 500 ms apart), so every
 * thread's CPU in the window is what those events cost end to end (plus what the idle threads
 * spend while the last of them drain: a few hundred ms of polling).
 *
 * CPU time, not wall time: on a shared machine the JavaScript threads' µs per event move little
 * with the load beside it, its events/s does. chDB's and the sink's do move: an insert costs about
 * the same whatever its rows, and a slower round carries more rows (BENCHMARKS.md "chDB's cost per
 * insert"), so compare rounds run at similar loads. A/B: run both trees in one invocation (alternating rounds) and
 * compare the medians. The window's backlog (topology and sink lag) is printed: when it grows, the
 * threads downstream of the ingress did less than the accepted events' work and their µs/event
 * reads low.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LoadGenerator } from './lib/LoadGenerator.js';
import { metricSum, NpmStartService, threadCpuSeconds } from './lib/NpmStartService.js';
import { productBulk } from './lib/Payloads.js';
import { median } from './lib/Percentiles.js';
import { classifyNodeThreads, splitThreadCpu, threadTicks, type ThreadSnapshot } from './lib/ThreadSplit.js';

interface Options {
  trees: string[];
  rate: number;
  bulk: number;
  warmupSeconds: number;
  seconds: number;
  rounds: number;
  idleSeconds: number;
  env: Record<string, string>;
  bEnv: Record<string, string>;
  gdb: boolean;
  json?: string;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { trees: [], rate: 2000, bulk: 100, warmupSeconds: 10, seconds: 30, rounds: 1, idleSeconds: 5, env: {}, bEnv: {}, gdb: true };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--tree') options.trees.push(path.resolve(value()));
    else if (flag === '--rate') options.rate = Number(value());
    else if (flag === '--bulk') options.bulk = Number(value());
    else if (flag === '--warmup') options.warmupSeconds = Number(value());
    else if (flag === '--seconds') options.seconds = Number(value());
    else if (flag === '--rounds') options.rounds = Number(value());
    else if (flag === '--idle') options.idleSeconds = Number(value());
    else if (flag === '--no-gdb') options.gdb = false;
    else if (flag === '--json') options.json = value();
    else if (flag === '--env' || flag === '--b-env') {
      const [key, ...rest] = value().split('=');
      (flag === '--env' ? options.env : options.bEnv)[key!] = rest.join('=');
    } else throw new Error(`unknown option ${flag} (see the header of bench/service-cpu-split.ts)`);
  }
  if (options.trees.length === 0) options.trees.push(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'));
  if (options.trees.length > 2) throw new Error('at most two trees (an A/B run)');
  if (options.trees.length === 1 && Object.keys(options.bEnv).length > 0) options.trees.push(options.trees[0]!);
  return options;
}

interface Snapshot extends ThreadSnapshot {
  at: number;
  accepted: number;
  backlog: number;
  sinkLag: number;
}

async function snapshot(service: NpmStartService, pid: number): Promise<Snapshot> {
  const text = await service.metricsText();
  const threads = threadTicks(pid);
  const processSeconds = service.cpuSeconds();
  const jsThreads = threadCpuSeconds(text);
  if (jsThreads.size === 0) throw new Error('the service publishes no streamline_thread_cpu_seconds_total: a tree from before f04d4fc cannot be split by thread');
  return {
    at: performance.now(),
    processSeconds,
    threads,
    jsThreads,
    accepted: metricSum(text, 'streamline_ingress_events_accepted_total') ?? 0,
    backlog: metricSum(text, 'streamline_topology_backlog_records') ?? 0,
    sinkLag: metricSum(text, 'streamline_sink_lag_records') ?? 0,
  };
}

interface Run {
  side: 'A' | 'B';
  tree: string;
  round: number;
  seconds: number;
  acceptedEvents: number;
  offered: number;
  statuses: Record<string, number>;
  p99Ms: number;
  backlogAtLoadEnd: number;
  sinkLagAtLoadEnd: number;
  drainSeconds: number;
  /** µs of CPU per accepted event, by row. */
  usPerEvent: Record<string, number>;
  /** ms of CPU per second with no load, by row (empty without an idle window). */
  idleMsPerSecond: Record<string, number>;
}

/** Polls the service's metrics until the topology's backlog and the sink's lag read 0 twice in a row. */
async function drain(service: NpmStartService, timeoutMs = 180_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let zeros = 0;
  while (zeros < 2) {
    if (performance.now() > deadline) throw new Error(`the service did not drain within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const text = await service.metricsText();
    const idle = (metricSum(text, 'streamline_topology_backlog_records') ?? 0) === 0 && (metricSum(text, 'streamline_sink_lag_records') ?? 0) === 0;
    zeros = idle ? zeros + 1 : 0;
  }
}

async function runOnce(options: Options, side: 'A' | 'B', round: number): Promise<Run> {
  const tree = options.trees[side === 'A' ? 0 : 1]!;
  const service = await NpmStartService.start(tree, side === 'B' ? { ...options.env, ...options.bEnv } : options.env);
  const load = new LoadGenerator(service.base, 64);
  try {
    const pid = service.pid;
    const rps = options.rate / options.bulk;
    const next = productBulk(options.bulk, 'cpu_split');
    const spec = { path: '/events/bulk', headers: {}, next };
    await load.openLoop(spec, [{ name: 'warmup', durationMs: options.warmupSeconds * 1000, fromRps: rps, toRps: rps }], 200);
    await drain(service);
    let idleMsPerSecond: Record<string, number> = {};
    if (options.idleSeconds > 0) {
      const idleFrom = await snapshot(service, pid);
      await new Promise((resolve) => setTimeout(resolve, options.idleSeconds * 1000));
      const idleTo = await snapshot(service, pid);
      const idleSeconds = (idleTo.at - idleFrom.at) / 1000;
      idleMsPerSecond = Object.fromEntries(Object.entries(splitThreadCpu(idleFrom, idleTo, new Map())).map(([row, s]) => [row, (s * 1000) / idleSeconds]));
    }
    const before = await snapshot(service, pid);
    const { total } = await load.openLoop(spec, [{ name: 'window', durationMs: options.seconds * 1000, fromRps: rps, toRps: rps }], 200);
    const atLoadEnd = await snapshot(service, pid);
    await drain(service);
    const after = await snapshot(service, pid);
    const roles = options.gdb ? classifyNodeThreads(pid) : new Map<number, string>();
    const acceptedEvents = after.accepted - before.accepted;
    const seconds = splitThreadCpu(before, after, roles);
    const usPerEvent = Object.fromEntries(Object.entries(seconds).map(([row, s]) => [row, acceptedEvents > 0 ? (s * 1e6) / acceptedEvents : NaN]));
    return {
      side,
      tree,
      round,
      seconds: (after.at - before.at) / 1000,
      acceptedEvents,
      offered: options.rate,
      statuses: total.statuses,
      p99Ms: total.latencyMs.p99,
      backlogAtLoadEnd: atLoadEnd.backlog,
      sinkLagAtLoadEnd: atLoadEnd.sinkLag,
      drainSeconds: (after.at - atLoadEnd.at) / 1000,
      usPerEvent,
      idleMsPerSecond,
    };
  } finally {
    load.close();
    await service.stop();
  }
}

function loadAverage(): string {
  return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

function printTable(title: string, rows: string[], columns: Array<{ name: string; values: Record<string, number> }>): void {
  console.log(`\n${title}`);
  const width = Math.max(...rows.map((r) => r.length), 10);
  console.log(`| ${'µs CPU per accepted event'.padEnd(width)} | ${columns.map((c) => c.name.padStart(9)).join(' | ')} |`);
  console.log(`|${'-'.repeat(width + 2)}|${columns.map(() => '----------:').join('|')}|`);
  for (const row of rows) console.log(`| ${row.padEnd(width)} | ${columns.map((c) => (c.values[row] === undefined ? '' : c.values[row]!.toFixed(1)).padStart(9)).join(' | ')} |`);
}

const options = parseOptions(process.argv.slice(2));
console.log(
  `service CPU split: ${options.rate} events/s offered in bulks of ${options.bulk} (seed 004 POST /events/bulk, open loop), ${options.warmupSeconds} s warm-up, ${options.seconds} s window, ` +
    `${options.rounds} round(s) of A=${options.trees[0]}${options.trees[1] ? ` B=${options.trees[1]}` : ''}` +
    `${Object.keys(options.env).length ? `, env ${JSON.stringify(options.env)}` : ''}${Object.keys(options.bEnv).length ? `, B's env ${JSON.stringify(options.bEnv)}` : ''}`,
);
const runs: Run[] = [];
for (let round = 1; round <= options.rounds; round++) {
  const sides: Array<'A' | 'B'> = options.trees.length === 2 ? ['A', 'B'] : ['A'];
  for (const side of round % 2 === 1 ? sides : sides.reverse()) {
    const loadBefore = loadAverage();
    const run = await runOnce(options, side, round);
    runs.push(run);
    const statuses = Object.entries(run.statuses).map(([status, n]) => `${status}:${n}`).join(' ');
    console.log(
      `round ${round} ${side}: ${run.acceptedEvents} events accepted (${statuses}; p99 ${run.p99Ms} ms); ` +
        `at the load's end backlog ${run.backlogAtLoadEnd}, sink lag ${run.sinkLagAtLoadEnd}, drained in ${run.drainSeconds.toFixed(1)} s; total ${run.usPerEvent.total!.toFixed(1)} µs/event; load ${loadBefore} -> ${loadAverage()}`,
    );
  }
}
const rows = [...new Set(runs.flatMap((run) => Object.keys(run.usPerEvent)))].sort((a, b) => (a === 'total' ? 1 : b === 'total' ? -1 : a.localeCompare(b)));
printTable(
  'every run',
  rows,
  runs.map((run, i) => ({ name: `${run.side}${i + 1}`, values: run.usPerEvent })),
);
const medians = (options.trees.length === 2 ? ['A', 'B'] : ['A']).map((side) => {
  const mine = runs.filter((run) => run.side === side);
  return Object.fromEntries(rows.map((row) => [row, median(mine.map((run) => run.usPerEvent[row] ?? 0))]));
});
if (options.trees.length === 2) {
  const [a, b] = medians as [Record<string, number>, Record<string, number>];
  printTable('medians (A, B, B - A)', rows, [
    { name: 'A', values: a },
    { name: 'B', values: b },
    { name: 'B - A', values: Object.fromEntries(rows.map((row) => [row, b[row]! - a[row]!])) },
  ]);
} else if (options.rounds > 1) printTable('medians', rows, [{ name: 'median', values: medians[0]! }]);
if (options.idleSeconds > 0) {
  // gdb classifies threads only at the end of the loaded window: here Node's helpers are one row.
  const idleRows = [...new Set(runs.flatMap((run) => Object.keys(run.idleMsPerSecond)))].sort((a, b) => (a === 'total' ? 1 : b === 'total' ? -1 : a.localeCompare(b)));
  console.log(`\nidle: ms of CPU per second with no load (${options.idleSeconds} s after the warm-up drained)`);
  for (const row of idleRows) console.log(`| ${row.padEnd(45)} | ${runs.map((run) => (run.idleMsPerSecond[row] ?? 0).toFixed(1).padStart(7)).join(' | ')} |`);
}
if (options.json) fs.writeFileSync(options.json, JSON.stringify({ options, runs }, null, 2));

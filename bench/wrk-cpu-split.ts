/**
 * CPU per request wrk counted (refused ones included: run with a high MAX_TOPOLOGY_LAG to compare), thread by thread,
 * under wrk single events as users send them (issue 13): `npm start` on embedded defaults (a fresh DATA_DIR each run), wrk -t1 -c32 with
 * bench/lib/Wrk.ts's script (seed 004 events, each with its own event_id and one of 100,000
 * users). Unlike bench/service-cpu-split.ts, whose bulk payloads repeat one body (one user per
 * bulk of 1: every reference lookup in the read cache), the per-event work here is what distinct
 * users and ids cost.
 *
 *   npx tsx bench/wrk-cpu-split.ts [--tree DIR]... [--rounds N] [--seconds S] [--env K=V]... [--b-env K=V]...
 *
 * --env sets the service's environment (every tree), e.g. --env ROLES=ingress for the ingress alone.
 * --b-env, with one tree: an A/B run of that tree without and with it (e.g. --b-env STREAM_THREADS=2).
 *
 * Each run: ready, a 3 s wrk warm-up, wait until the landing topic's backlog is 0, the measured
 * wrk window, wait again until it is 0; the window's CPU (the service's
 * streamline_thread_cpu_seconds_total{thread} and the whole process's from /proc) over the
 * requests wrk counted. So the figures include the topology's work on the window's events even
 * when it fell behind during it. With two trees the rounds alternate A B, B A.
 */
import os from 'node:os';
import path from 'node:path';
import { NpmStartService, threadCpuSeconds } from './lib/NpmStartService.js';
import { median } from './lib/Percentiles.js';
import { classifyNodeThreads, splitThreadCpu, threadTicks, type ThreadSnapshot } from './lib/ThreadSplit.js';
import { hasWrk, wrkSingleEvents, type WrkResult } from './lib/Wrk.js';

const CONNECTIONS = 32;
const DRAIN_TIMEOUT_MS = 120_000;

interface Run {
  /** The tree, or "A"/"B" for an A/B run of one tree's environment. */
  tree: string;
  wrk: WrkResult;
  backlogAtEnd: number;
  /** The service's largest RSS sampled (every 250 ms) during the measured window, MB. */
  peakRssMb: number;
  processMicros: number;
  threadMicros: Record<string, number>;
  /** Every thread's µs per accepted request, helpers included (bench/lib/ThreadSplit's rows). */
  splitMicros: Record<string, number>;
}

interface Side {
  name: string;
  tree: string;
  env: Record<string, string>;
}

function parseArgs(argv: string[]): { sides: Side[]; rounds: number; seconds: number } {
  const options = { trees: [] as string[], rounds: 1, seconds: 15, env: {} as Record<string, string>, bEnv: {} as Record<string, string> };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === '--tree' && value) options.trees.push(path.resolve(value));
    else if (argv[i] === '--rounds' && value) options.rounds = Number(value);
    else if (argv[i] === '--seconds' && value) options.seconds = Number(value);
    else if ((argv[i] === '--env' || argv[i] === '--b-env') && value?.includes('=')) {
      (argv[i] === '--env' ? options.env : options.bEnv)[value.slice(0, value.indexOf('='))] = value.slice(value.indexOf('=') + 1);
    }
    else throw new Error(`unknown or incomplete option ${argv[i]}`);
    i++;
  }
  if (options.trees.length === 0) options.trees.push(process.cwd());
  const { trees, env, bEnv, rounds, seconds } = options;
  if (Object.keys(bEnv).length === 0) return { sides: trees.map((tree) => ({ name: tree, tree, env })), rounds, seconds };
  if (trees.length !== 1) throw new Error('--b-env takes one tree: an A/B run of its environment');
  const sides = [
    { name: 'A', tree: trees[0]!, env },
    { name: 'B', tree: trees[0]!, env: { ...env, ...bEnv } },
  ];
  return { sides, rounds, seconds };
}

async function landingBacklog(service: NpmStartService): Promise<number> {
  const text = await service.metricsText();
  let backlog = 0;
  for (const match of text.matchAll(/^streamline_topology_consumer_lag\{topic="events\.raw",[^}]*\} (\S+)$/gm)) backlog += Number(match[1]);
  return backlog;
}

async function drained(service: NpmStartService): Promise<void> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while ((await landingBacklog(service)) > 0) {
    if (Date.now() > deadline) throw new Error('the topology did not drain its backlog within 120 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function threadSnapshot(service: NpmStartService): Promise<ThreadSnapshot> {
  const jsThreads = threadCpuSeconds(await service.metricsText());
  return { processSeconds: service.cpuSeconds(), threads: threadTicks(service.pid), jsThreads };
}

async function measure({ name, tree, env }: Side, seconds: number): Promise<Run> {
  const service = await NpmStartService.start(tree, env);
  try {
    await wrkSingleEvents(service.base, CONNECTIONS, 3);
    await drained(service);
    const before = await threadSnapshot(service);
    let peakRss = 0;
    const rssSampler = setInterval(() => (peakRss = Math.max(peakRss, service.rssBytes().rss)), 250);
    const wrk = await wrkSingleEvents(service.base, CONNECTIONS, seconds).finally(() => clearInterval(rssSampler));
    const backlogAtEnd = await landingBacklog(service);
    await drained(service);
    const after = await threadSnapshot(service);
    const roles = classifyNodeThreads(service.pid);
    // Refusals (503 past MAX_TOPOLOGY_LAG, 429) cost little: the figures are per accepted request.
    const perRequest = (s: number) => (s * 1e6) / (wrk.requests - wrk.non2xx);
    const threadMicros = Object.fromEntries([...after.jsThreads].map(([thread, s]) => [thread, perRequest(s - (before.jsThreads.get(thread) ?? 0))]));
    const splitMicros = Object.fromEntries(Object.entries(splitThreadCpu(before, after, roles)).map(([row, s]) => [row, perRequest(s)]));
    return { tree: name, wrk, backlogAtEnd, peakRssMb: peakRss / 2 ** 20, processMicros: perRequest(after.processSeconds - before.processSeconds), threadMicros, splitMicros };
  } finally {
    await service.stop();
  }
}

async function main(): Promise<void> {
  if (!hasWrk()) throw new Error('wrk is not installed (apt-get install wrk)');
  const { sides, rounds, seconds } = parseArgs(process.argv.slice(2));
  const runs: Run[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      const run = await measure(side, seconds);
      runs.push(run);
      const threads = Object.entries(run.threadMicros).map(([thread, us]) => `${thread} ${us.toFixed(1)}`).join(', ');
      console.log(
        `${run.tree}: ${run.wrk.requestsPerSecond.toFixed(0)} req/s, p99 ${run.wrk.latencyMs.p99} ms, non-2xx ${run.wrk.non2xx}, backlog at the end ${run.backlogAtEnd}, peak RSS ${run.peakRssMb.toFixed(0)} MB; ` +
          `µs CPU per request: process ${run.processMicros.toFixed(1)} (${threads}); load ${os.loadavg()[0]!.toFixed(2)}`,
      );
      console.log(`  helpers: ${helperRows(run.splitMicros).map((row) => `${row} ${run.splitMicros[row]!.toFixed(1)}`).join(', ')}`);
    }
  }
  // Per request wrk counted: a run with refusals (non-2xx) reads lower than its CPU per accepted event.
  console.log('\nmedians per tree (µs of CPU per request, refused ones included)');
  for (const { name: tree } of sides) {
    const mine = runs.filter((run) => run.tree === tree);
    const threads = [...new Set(mine.flatMap((run) => Object.keys(run.threadMicros)))].sort();
    const cells = threads.map((thread) => `${thread} ${median(mine.map((run) => run.threadMicros[thread] ?? 0)).toFixed(1)}`);
    console.log(`${tree}: req/s ${median(mine.map((run) => run.wrk.requestsPerSecond)).toFixed(0)}, peak RSS ${median(mine.map((run) => run.peakRssMb)).toFixed(0)} MB, process ${median(mine.map((run) => run.processMicros)).toFixed(1)}, ${cells.join(', ')}`);
    const rows = helperRows(Object.fromEntries(mine.flatMap((run) => Object.entries(run.splitMicros)))).sort();
    console.log(`  helpers: ${rows.map((row) => `${row} ${median(mine.map((run) => run.splitMicros[row] ?? 0)).toFixed(1)}`).join(', ')}`);
  }
}

/** The split's rows of helper threads: not the total, not the JavaScript threads (shown per thread above). */
function helperRows(split: Record<string, number>): string[] {
  return Object.keys(split).filter((row) => row !== 'total' && !row.endsWith('[JS]'));
}

await main();

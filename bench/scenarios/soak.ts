/**
 * Issue 21 item 7: the soak. The service runs as users run it (`npm start`: compiled dist/, every
 * role, embedded defaults, default threads and MEMORY_LIMIT_MB), on 127.0.0.1.
 *   1. sustained: bulk requests of seed 004 events at a fixed offered rate (open loop) for
 *      BENCH_SOAK_MINUTES;
 *   2. capacity: as fast as the service accepts (closed loop; 429/503 honoured via Retry-After)
 *      for BENCH_SOAK_CAPACITY_MINUTES;
 *   3. drain: no load until everything acknowledged is counted in ClickHouse (bounded).
 * One row per interval (bench/lib/SoakSampler.ts), the Done-when checks (bench/lib/SoakChecks.ts),
 * a CSV and an SVG plot in bench/results/ (and docs/images/ for the documented 30 + 10 minute run).
 *
 *   npm run bench -- soak        (not part of a plain `npm run bench`: it takes 40+ minutes)
 *
 *   BENCH_SOAK_RATE=2000              offered events/s in the sustained phase
 *   BENCH_SOAK_MINUTES=30             sustained phase
 *   BENCH_SOAK_CAPACITY_MINUTES=10    full-capacity phase (0 skips it)
 *   BENCH_SOAK_BULK=100               events per request
 *   BENCH_SOAK_CONNECTIONS=8          concurrent requests in the full-capacity phase
 *   BENCH_SOAK_SAMPLE_SECONDS=60      one row per this many seconds (lag and count probed every 5 s)
 *   BENCH_SOAK_DRAIN_MINUTES=15       longest wait for acked = counted after the load
 *   BENCH_SOAK_TREE=<checkout>        run another (built) checkout's service, e.g. a clean export of HEAD
 *                                     while the working tree is being edited
 *   BENCH_SOAK_PUBLISH=true           also write docs/images/soak.svg and soak.csv (default: only
 *                                     when the run is at least 30 + 10 minutes)
 * Service settings (MEMORY_LIMIT_MB, STREAM_THREADS, ...) pass through from the environment.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MEMORY_LIMIT_MB } from '../../config/MemoryPlan.js';
import { metricSum, NpmStartService } from '../lib/NpmStartService.js';
import type { Row, Scenario } from '../lib/Scenario.js';
import { soakChecks } from '../lib/SoakChecks.js';
import { SoakLoad } from '../lib/SoakLoad.js';
import { soakSvg } from '../lib/SoakPlot.js';
import { SoakSampler, toCsv, type SoakRow } from '../lib/SoakSampler.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The service's default when the environment does not set it (app/TopologyBackpressure.ts). */
const DEFAULT_MAX_TOPOLOGY_LAG = 20_000;

function positive(name: string, fallback: number, { integer = true, allowZero = false } = {}): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0) || (integer && !Number.isInteger(value))) {
    throw new Error(`${name}=${text}: expected a ${integer ? 'whole ' : ''}number ${allowZero ? '>= 0' : '> 0'}`);
  }
  return value;
}

function settings() {
  return {
    rate: positive('BENCH_SOAK_RATE', 2000),
    minutes: positive('BENCH_SOAK_MINUTES', 30, { integer: false }),
    capacityMinutes: positive('BENCH_SOAK_CAPACITY_MINUTES', 10, { integer: false, allowZero: true }),
    bulk: positive('BENCH_SOAK_BULK', 100),
    connections: positive('BENCH_SOAK_CONNECTIONS', 8),
    sampleSeconds: positive('BENCH_SOAK_SAMPLE_SECONDS', 60, { integer: false }),
    drainMinutes: positive('BENCH_SOAK_DRAIN_MINUTES', 15, { integer: false }),
    tree: path.resolve(process.env.BENCH_SOAK_TREE || root),
    budgetMb: positive('MEMORY_LIMIT_MB', DEFAULT_MEMORY_LIMIT_MB),
    maxTopologyLag: positive('MAX_TOPOLOGY_LAG', DEFAULT_MAX_TOPOLOGY_LAG, { allowZero: true }) || Number.POSITIVE_INFINITY,
  };
}

const line = (r: SoakRow) =>
  `${r.phase.padEnd(9)} min ${r.minute.toFixed(1).padStart(5)}: accepted ${r.accepted_eps}/s, queryable ${r.queryable_eps}/s, refused ${r.refused_requests}, ` +
  `lag e2e ${r.e2e_lag_max} topo ${r.topology_lag_max}, RSS ${r.rss_mb} MB (anon ${r.rss_anon_mb}), CPU ${r.service_cpu_pct}%, loop p99 ${r.loop_p99_ms} ms, ` +
  `disk log ${r.disk_log_mb} state ${r.disk_state_mb} chdb ${r.disk_chdb_mb} MB, load ${r.load1}`;

/** Polls until every acknowledged event is counted and the topology has nothing left, or the limit passes. */
async function drain(service: NpmStartService, sampler: SoakSampler, acked: number, limitMs: number): Promise<number | undefined> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    const counted = await sampler.countQueryable();
    const backlog = metricSum(await service.metricsText(), 'streamline_topology_backlog_records') ?? 0;
    if (counted >= acked && backlog === 0) return (performance.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  return undefined;
}

export const soakScenario: Scenario = async (context) => {
  const s = settings();
  context.log(`soak: the service of ${s.tree}; ${s.rate} events/s for ${s.minutes} min, then full capacity (${s.connections} connections) for ${s.capacityMinutes} min, bulk ${s.bulk}; budget ${s.budgetMb} MB`);
  const service = await NpmStartService.start(s.tree);
  context.log(`soak: service ready (pid ${service.pid}, DATA_DIR ${service.dataDir}, log ${service.logFile})`);
  const load = new SoakLoad(service.base, s.bulk);
  const sampler = new SoakSampler(service, load, { rowMs: s.sampleSeconds * 1000, probeMs: Math.min(5000, s.sampleSeconds * 1000), onRow: (r) => context.log(line(r)) });
  let drainSeconds: number | undefined;
  let counted = 0;
  try {
    sampler.setPhase('sustained', s.rate);
    sampler.start();
    await load.paced(s.rate, s.minutes * 60_000);
    await sampler.row();
    if (s.capacityMinutes > 0) {
      sampler.setPhase('capacity', 0);
      await load.flatOut(s.connections, s.capacityMinutes * 60_000);
      await sampler.row();
    }
    sampler.setPhase('drain', 0);
    drainSeconds = await drain(service, sampler, load.counters.ackedEvents, s.drainMinutes * 60_000);
    await sampler.row();
    counted = await sampler.countQueryable();
    context.log(`soak: DATA_DIR at the end (du, MB): ${Object.entries(service.diskByEntry()).map(([name, bytes]) => `${name} ${(bytes / 1048576).toFixed(1)}`).join(', ')}`);
  } finally {
    await sampler.stop();
    load.close();
    if (service.exited) context.log(`soak: the service exited during the run; its log: ${service.logFile}`);
    await service.stop(process.env.BENCH_SOAK_KEEP_DATA === 'true');
  }

  const acked = load.counters.ackedEvents;
  const checks = soakChecks({ rows: sampler.rows, sustainedMinutes: s.minutes, sustainedStartMinute: 0, rate: s.rate, budgetMb: s.budgetMb, maxTopologyLag: s.maxTopologyLag, acked, counted, drainSeconds });
  for (const check of checks) context.log(`soak check ${check.pass ? 'PASS' : 'FAIL'}: ${check.name}: ${check.detail}`);
  if (load.counters.errors > 0) context.log(`soak: ${load.counters.errors} requests failed; the last: ${load.counters.lastError}`);

  const loads = sampler.rows.map((r) => r.load1);
  const title = [
    `Soak: ${s.rate} events/s for ${s.minutes} min, full capacity for ${s.capacityMinutes} min, drain`,
    `npm start on embedded defaults (MEMORY_LIMIT_MB ${s.budgetMb}), ${s.bulk} seed 004 events per request; ${os.cpus().length} cores shared, load average ${Math.min(...loads)}-${Math.max(...loads)}`,
  ];
  const csv = toCsv(sampler.rows);
  const svg = soakSvg(sampler.rows, title, s.budgetMb);
  fs.writeFileSync(path.join(context.resultsDir, 'soak.csv'), csv);
  fs.writeFileSync(path.join(context.resultsDir, 'soak.svg'), svg);
  fs.writeFileSync(path.join(context.resultsDir, 'soak.json'), JSON.stringify({ settings: s, acked, counted, drainSeconds, counters: { ...load.counters, latencies: undefined }, checks, rows: sampler.rows }, null, 2) + '\n');
  const publish = process.env.BENCH_SOAK_PUBLISH === 'true' || (s.minutes >= 30 && s.capacityMinutes >= 10);
  if (publish) {
    const images = path.join(root, 'docs/images');
    fs.mkdirSync(images, { recursive: true });
    fs.writeFileSync(path.join(images, 'soak.svg'), svg);
    fs.writeFileSync(path.join(images, 'soak.csv'), csv);
  }
  context.log(`soak: rows in ${path.join(context.resultsDir, 'soak.csv')}, plot in soak.svg${publish ? ' (and docs/images/)' : ''}`);

  const sustained = sampler.rows.filter((r) => r.phase === 'sustained');
  const capacity = sampler.rows.filter((r) => r.phase === 'capacity');
  const mean = (rows: SoakRow[], pick: (r: SoakRow) => number) => Math.round(rows.reduce((sum, r) => sum + pick(r), 0) / Math.max(1, rows.length));
  const row: Row = {
    scenario: `soak: ${s.rate} events/s x ${s.minutes} min + capacity x ${s.capacityMinutes} min`,
    route: `POST /events/bulk (${s.bulk} seed 004 events)`,
    eventsPerSecond: mean(sustained, (r) => r.accepted_eps),
    servicePeakRssMb: Math.round(Math.max(0, ...sampler.rows.map((r) => r.rss_mb))),
    loopDelayP99Ms: Math.max(0, ...sustained.map((r) => r.loop_p99_ms)),
    target: 'issue 21 Done-when (soak)',
    met: checks.every((c) => c.pass),
    note: `capacity ${mean(capacity, (r) => r.accepted_eps)} events/s accepted; ${checks.filter((c) => !c.pass).map((c) => c.name).join('; ') || 'every check passed'}`,
    detail: { checks, acked, counted, drainSeconds },
  };
  return [row];
};

/**
 * `npm run bench [-- [--quick] [--profile] [scenario ...]]`: runs the scenarios (all by default:
 * threads, ingress, seeds, pipeline, micro, kafka; `soak`, 40+ minutes, only when named), prints one
 * table and writes bench/results/latest.json.
 * Every service runs in a child process on 127.0.0.1; every load is bounded in time.
 *   --quick    every duration x 0.25 (a smoke run, not for BENCHMARKS.md)
 *   --profile  the ingress and pipeline services run with --cpu-prof into bench/results/profiles/
 *              (summarise with `npx tsx bench/profile-summary.ts <file.cpuprofile>`)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext, Row, Scenario } from './lib/Scenario.js';
import { ingressScenarios } from './scenarios/ingress.js';
import { kafkaScenario } from './scenarios/kafka.js';
import { microScenarios } from './scenarios/micro.js';
import { pipelineScenario } from './scenarios/pipeline.js';
import { seedScenarios } from './scenarios/seeds.js';
import { soakScenario } from './scenarios/soak.js';
import { threadsScenario } from './scenarios/threads.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const scenarios: Record<string, Scenario> = { threads: threadsScenario, ingress: ingressScenarios, seeds: seedScenarios, pipeline: pipelineScenario, micro: microScenarios, kafka: kafkaScenario, soak: soakScenario };
/** Run only when named: the soak alone takes 40+ minutes (bench/scenarios/soak.ts). */
const onlyWhenNamed = new Set(['soak']);

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const profile = args.includes('--profile');
const chosen = args.filter((a) => !a.startsWith('--'));
for (const name of chosen) if (!scenarios[name]) throw new Error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(', ')}`);

const resultsDir = path.join(here, 'results');
fs.mkdirSync(resultsDir, { recursive: true });
const started = Date.now();
const context: BenchContext = {
  scale: quick ? 0.25 : 1,
  resultsDir,
  profileDir: profile ? path.join(resultsDir, 'profiles') : undefined,
  log: (line) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`),
};

function machine() {
  const load = os.loadavg();
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverage1m: Number(load[0].toFixed(2)),
  };
}

const fmt = (n: number | undefined, digits = 0) => (n === undefined ? '' : n.toLocaleString('en-US', { maximumFractionDigits: digits }));

function table(rows: Row[]): string {
  const header = ['scenario', 'req/s', 'events/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'svc CPU %', 'svc peak MB', 'loop p99 ms', 'gen CPU %', 'target', 'met'];
  const lines = rows.map((r) => [
    r.scenario,
    fmt(r.requestsPerSecond),
    fmt(r.eventsPerSecond),
    fmt(r.p50Ms, 1),
    fmt(r.p95Ms, 1),
    fmt(r.p99Ms, 1),
    r.errorRate === undefined ? '' : `${(r.errorRate * 100).toFixed(2)}%`,
    fmt(r.serviceCpuPercent),
    fmt(r.servicePeakRssMb),
    fmt(r.loopDelayP99Ms),
    fmt(r.loadGenCpuPercent),
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
  ]);
  const out = [header, ...lines].map((cells) => `| ${cells.join(' | ')} |`);
  out.splice(1, 0, `|${header.map(() => '---').join('|')}|`);
  return out.join('\n');
}

const before = machine();
const rows: Row[] = [];
// The machine may be shared: the 1-minute load average around each scenario says how much.
const loadAverage: Record<string, { before: number; after: number }> = {};
for (const name of chosen.length > 0 ? chosen : Object.keys(scenarios).filter((n) => !onlyWhenNamed.has(n))) {
  const loadBefore = Number(os.loadavg()[0].toFixed(2));
  try {
    rows.push(...(await scenarios[name](context)));
  } catch (error) {
    context.log(`scenario ${name} failed: ${(error as Error).stack ?? String(error)}`);
    rows.push({ scenario: name, route: '', note: `failed: ${(error as Error).message}`, met: false });
  }
  loadAverage[name] = { before: loadBefore, after: Number(os.loadavg()[0].toFixed(2)) };
}
const totalSeconds = Math.round((Date.now() - started) / 1000);
const result = { startedAt: new Date(started).toISOString(), totalSeconds, quick, profile, machine: { ...before, loadAverage1mAtEnd: machine().loadAverage1m }, loadAverage, rows };
fs.writeFileSync(path.join(resultsDir, 'latest.json'), JSON.stringify(result, null, 2) + '\n');
console.log(`\n${table(rows)}\n`);
for (const r of rows) if (r.note) console.log(`- ${r.scenario}: ${r.note}`);
console.log(`\nmachine: ${JSON.stringify(result.machine)}\nload average (1 min) before/after each scenario group: ${JSON.stringify(loadAverage)}\nbench took ${totalSeconds} s; results in bench/results/latest.json`);

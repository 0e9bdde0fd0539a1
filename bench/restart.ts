/**
 * SIGKILL-to-ready on embedded defaults (issue 21 item 6: target <= 3 s).
 *
 *   npx tsx bench/restart.ts            (BENCH_RESTART_RUNS=7, BENCH_RESTART_EVENTS=20000)
 *
 * Starts the service as `npm start` does (scripts/start.sh: the compiled dist, built first if
 * the sources are newer) on a fresh DATA_DIR, loads seed 004 events, then, per run: SIGKILL, start
 * again on the same DATA_DIR, and times spawn -> GET /ready 200 (and spawn -> first HTTP answer).
 * Between runs more events are posted so every restart has fresh state to recover. Prints each
 * run and the p50; the service runs on 127.0.0.1 only and everything stops by itself.
 *
 *   BENCH_RESTART_COMPARE=/path/to/other/checkout   (built) alternates its restarts with this tree's
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { npmStartCommand } from './lib/NpmStartCommand.js';
import { freePort } from './lib/NpmStartService.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.BENCH_RESTART_RUNS ?? 7);
const EVENTS = Number(process.env.BENCH_RESTART_EVENTS ?? 20_000);
const BULK = 500;
const READY_TIMEOUT_MS = 120_000;

interface Started {
  child: ChildProcess;
  listeningMs: number;
  readyMs: number;
  /** CPU time (all threads) the service used until ready: the wall time's floor on an idle machine. */
  cpuMs: number;
}

/** utime + stime of a process, from /proc (Linux); 0 elsewhere. */
function cpuMsOf(pid: number | undefined): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

async function startService(env: Record<string, string>, base: string, tree = root): Promise<Started> {
  const startedAt = performance.now();
  const { command, args } = npmStartCommand(tree);
  const child = spawn(command, args, { cwd: tree, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  let exited = false;
  child.once('exit', () => (exited = true));
  let listeningMs = 0;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited) throw new Error(`the service exited before it was ready (code ${child.exitCode})`);
    if (Date.now() > deadline) throw new Error(`not ready within ${READY_TIMEOUT_MS} ms`);
    try {
      const response = await fetch(`${base}/ready`);
      if (!listeningMs) listeningMs = performance.now() - startedAt;
      if (response.status === 200) return { child, listeningMs, readyMs: performance.now() - startedAt, cpuMs: cpuMsOf(child.pid) };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function load(base: string, from: number, count: number): Promise<void> {
  const names = ['page_view', 'add_to_cart', 'purchase', 'signup'];
  for (let sent = 0; sent < count; sent += BULK) {
    const events = Array.from({ length: Math.min(BULK, count - sent) }, (_, i) => ({
      event_id: `restart-${from + sent + i}`,
      event_name: names[(from + sent + i) % names.length],
      user_id: `user_${(from + sent + i) % 500}`,
      channel: (from + sent + i) % 3 ? 'web' : 'mobile',
      timestamp: Date.now(),
    }));
    const response = await fetch(`${base}/events/bulk`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
    if (response.status >= 300) throw new Error(`POST /events/bulk answered ${response.status}: ${await response.text()}`);
  }
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const p50 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
const seconds = (ms: number) => (ms / 1000).toFixed(2);

/** One tree under test: its own DATA_DIR and port, loaded once, then SIGKILLed and restarted per run. */
interface Subject {
  name: string;
  tree: string;
  env: Record<string, string>;
  base: string;
  dataDir: string;
  current?: ChildProcess;
  ready: number[];
  listening: number[];
  cpu: number[];
}

async function subject(name: string, tree: string): Promise<Subject> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-restart-'));
  const port = await freePort();
  const env = { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', KAFKA_BROKERS: '', KAFKA_BOOTSTRAP_SERVERS: '', CLICKHOUSE_URL: '', REDIS_URL: '' };
  return { name, tree, env, base: `http://127.0.0.1:${port}`, dataDir, ready: [], listening: [], cpu: [] };
}

// BENCH_RESTART_COMPARE=<another checkout, built>: its restarts alternate with this tree's (same
// load, same moments), so a before/after comparison on a busy machine sees the same load.
const compare = process.env.BENCH_RESTART_COMPARE;
const subjects = [await subject('this tree', root), ...(compare ? [await subject(path.resolve(compare), path.resolve(compare))] : [])];
try {
  for (const s of subjects) {
    const first = await startService(s.env, s.base, s.tree);
    s.current = first.child;
    console.log(`${s.name}: first start (empty DATA_DIR): listening ${seconds(first.listeningMs)} s, ready ${seconds(first.readyMs)} s, CPU ${seconds(first.cpuMs)} s`);
    await load(s.base, 0, EVENTS);
    console.log(`${s.name}: loaded ${EVENTS} events`);
    // One process at a time: the other tree's service is down while this one restarts.
    await kill(s.current);
    s.current = undefined;
  }
  for (let run = 1; run <= RUNS; run++) {
    for (const s of run % 2 ? subjects : [...subjects].reverse()) {
      const restarted = await startService(s.env, s.base, s.tree);
      s.current = restarted.child;
      s.ready.push(restarted.readyMs);
      s.listening.push(restarted.listeningMs);
      s.cpu.push(restarted.cpuMs);
      console.log(`${s.name} run ${run}: SIGKILL -> listening ${seconds(restarted.listeningMs)} s, -> ready ${seconds(restarted.readyMs)} s (CPU ${seconds(restarted.cpuMs)} s, load ${os.loadavg()[0].toFixed(1)})`);
      await load(s.base, EVENTS + run * 1000, 1000);
      await kill(s.current);
      s.current = undefined;
    }
  }
  for (const s of subjects) {
    console.log(
      `${s.name}: SIGKILL to ready, ${RUNS} runs: p50 ${seconds(p50(s.ready))} s (min ${seconds(Math.min(...s.ready))}, max ${seconds(Math.max(...s.ready))}); ` +
        `to listening p50 ${seconds(p50(s.listening))} s; CPU until ready p50 ${seconds(p50(s.cpu))} s (min ${seconds(Math.min(...s.cpu))}); machine: ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(2)}`,
    );
  }
} finally {
  for (const s of subjects) {
    if (s.current) await kill(s.current);
    fs.rmSync(s.dataDir, { recursive: true, force: true });
  }
}

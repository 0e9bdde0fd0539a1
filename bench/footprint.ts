/**
 * Footprint on embedded defaults (issue 21 items 1-2): disk reserved under DATA_DIR and RSS, at
 * idle right after start, then after N events.
 *
 *   npx tsx bench/footprint.ts        (BENCH_FOOTPRINT_EVENTS=50000, MEMORY_LIMIT_MB as the service's default)
 *
 * Starts the service as `npm start` does (scripts/start.sh) on a fresh DATA_DIR, waits for
 * GET /ready 200, then reports `du` (blocks reserved on disk, not apparent size: RocksDB
 * preallocates its write-ahead log and MANIFEST) of DATA_DIR by part (log, state, chdb, buffer = the spool,
 * other), the number of RocksDB instances (directories holding a CURRENT file), and the RSS of the
 * service: anonymous vs file-backed (mapped libraries, shared and reclaimable), the largest
 * mappings, the V8 heap the service reports and its CPU time so far. The same after posting N
 * seed-004-like events and letting the pipeline settle. Between the two, a second idle sample
 * BENCH_FOOTPRINT_IDLE_LATER_S (default 90, 0: none) after ready: what the idle service grows by
 * when left alone, and the CPU it spends meanwhile (ms per second, by thread). The service
 * applies MEMORY_LIMIT_MB's plan itself (app/Service.ts).
 * Everything runs on 127.0.0.1 and stops by itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { npmStartCommand } from './lib/NpmStartCommand.js';
import { freePort, metricSum, threadCpuSeconds } from './lib/NpmStartService.js';

/** The tree whose service is measured: this one, or BENCH_FOOTPRINT_TREE (another checkout, for before/after runs). */
const root = path.resolve(process.env.BENCH_FOOTPRINT_TREE ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const EVENTS = Number(process.env.BENCH_FOOTPRINT_EVENTS ?? 50_000);
const SETTLE_MS = Number(process.env.BENCH_FOOTPRINT_SETTLE_MS ?? 15_000);
/** A second idle sample this long after ready (0: none): a user measures whenever they like, not only at once. */
const IDLE_LATER_S = Number(process.env.BENCH_FOOTPRINT_IDLE_LATER_S ?? 90);
const BULK = 500;
const READY_TIMEOUT_MS = 180_000;

/** Reserved bytes (du -s --block-size=1), so preallocated-but-empty files count. */
function du(target: string): number {
  if (!fs.existsSync(target)) return 0;
  // du exits 1 when RocksDB deletes a file between its listing and its stat; the total is still printed.
  const result = spawnSync('du', ['-s', '--block-size=1', target]);
  return Number(result.stdout.toString().split('\t')[0]) || 0;
}

function rocksInstances(dir: string): number {
  let count = 0;
  const walk = (at: string): void => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(path.join(at, entry.name));
      else if (entry.name === 'CURRENT') count++;
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return count;
}

/** Resident set of the service: the start script's node child (npm start spawns dist/app/main.js). */
function rssBytes(pid: number): number {
  return servicePid(pid) === undefined ? 0 : statusKb(servicePid(pid)!, 'VmRSS') * 1024;
}

/** The process with the largest RSS among the start script and its children: the service. */
function servicePid(pid: number): number | undefined {
  let best: number | undefined;
  let max = -1;
  for (const p of [pid, ...childPids(pid)]) {
    const rss = statusKb(p, 'VmRSS');
    if (rss > max) [best, max] = [p, rss];
  }
  return best;
}

function statusKb(pid: number, field: string): number {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
    return Number(line?.split(/\s+/)[1] ?? 0);
  } catch {
    return 0; // gone
  }
}

/**
 * Where the RSS is: anonymous memory (heaps, caches, buffers: what a budget can bound) and
 * file-backed pages (mapped libraries: clean, shared with other processes mapping the same
 * file, and reclaimable by the kernel under pressure), the largest mappings by file, and the V8
 * heap (from the service's own metrics: per thread where it reports threads).
 */
function rssParts(pid: number): string {
  const p = servicePid(pid);
  if (p === undefined) return '';
  const byFile = new Map<string, number>();
  try {
    let file = '';
    for (const line of fs.readFileSync(`/proc/${p}/smaps`, 'utf8').split('\n')) {
      const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
      if (mapping) file = mapping[1]!.startsWith('/') ? path.basename(mapping[1]!) : '';
      else if (file && line.startsWith('Rss:')) byFile.set(file, (byFile.get(file) ?? 0) + Number(line.split(/\s+/)[1]) * 1024);
    }
  } catch {
    // smaps unreadable: the totals still print
  }
  const top = [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([name, bytes]) => `${name} ${mb(bytes)}`).join(', ');
  return `anon ${mb(statusKb(p, 'RssAnon') * 1024)} MB, file-backed ${mb(statusKb(p, 'RssFile') * 1024)} MB (${top}); threads ${statusKb(p, 'Threads')}; CPU ${cpuSeconds(p).toFixed(1)} s so far`;
}

/** User + system CPU time of the process so far (/proc/<pid>/stat utime + stime, in clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** The V8 heap(s) the service reports on /metrics/prometheus (nodejs_heap_size_used_bytes, any labels). */
async function heapParts(metricsUrl: string): Promise<string> {
  try {
    const text = await (await fetch(metricsUrl)).text();
    const lines = text.split('\n').filter((l) => l.startsWith('nodejs_heap_size_used_bytes') || l.startsWith('nodejs_heap_size_total_bytes'));
    const process = lines.map((l) => { const [series, value] = l.split(' '); return `${series} ${mb(Number(value))}`; }).join('; ');
    // Each thread's own heap (streamline_thread_heap_{used,total}_bytes{thread}): used/total per thread.
    const threads = new Map<string, { used?: number; total?: number }>();
    for (const line of text.split('\n')) {
      const match = /^streamline_thread_heap_(used|total)_bytes\{thread="([^"]+)"\} (\S+)/.exec(line);
      if (!match) continue;
      const entry = threads.get(match[2]!) ?? {};
      entry[match[1] as 'used' | 'total'] = Number(match[3]);
      threads.set(match[2]!, entry);
    }
    const perThread = [...threads].map(([thread, { used, total }]) => `${thread} ${mb(used ?? 0)}/${mb(total ?? 0)}`).join(', ');
    return perThread ? `${process}\n  per thread, used/total (MB): ${perThread}` : process;
  } catch {
    return '(metrics unavailable)';
  }
}

/** CPU seconds so far of each thread that reports streamline_thread_cpu_seconds_total{thread}. */
async function threadCpu(metricsUrl: string): Promise<Map<string, number>> {
  return threadCpuSeconds(await (await fetch(metricsUrl)).text());
}

/** Waits until events_processed_total reaches `events` and the sink's lag is 0 (at most 10 min). */
async function throughPipeline(metricsUrl: string, events: number): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (Date.now() < deadline) {
    const text = await (await fetch(metricsUrl)).text();
    if ((metricSum(text, 'events_processed_total') ?? 0) >= events && metricSum(text, 'streamline_sink_lag_records') === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the pipeline did not catch up within 10 min');
}

function childPids(pid: number): number[] {
  try {
    const direct = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return direct.flatMap((child) => [child, ...childPids(child)]);
  } catch {
    return [];
  }
}

async function waitReady(child: ChildProcess, base: string): Promise<number> {
  const startedAt = performance.now();
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited before it was ready (code ${child.exitCode})`);
    if (Date.now() > deadline) throw new Error(`not ready within ${READY_TIMEOUT_MS} ms`);
    try {
      if ((await fetch(`${base}/ready`)).status === 200) return performance.now() - startedAt;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function load(base: string, count: number): Promise<void> {
  const names = ['page_view', 'add_to_cart', 'purchase', 'signup'];
  for (let sent = 0; sent < count; sent += BULK) {
    const events = Array.from({ length: Math.min(BULK, count - sent) }, (_, i) => ({
      event_id: `footprint-${sent + i}`,
      event_name: names[(sent + i) % names.length],
      user_id: `user_${(sent + i) % 500}`,
      channel: (sent + i) % 3 ? 'web' : 'mobile',
      timestamp: Date.now(),
    }));
    for (;;) {
      const response = await fetch(`${base}/events/bulk`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
      if (response.status === 503 || response.status === 429) {
        // The memory budget (or a rate limit) pushes back: wait as told, then send the same batch.
        await response.arrayBuffer();
        await new Promise((resolve) => setTimeout(resolve, 1000 * Number(response.headers.get('retry-after') ?? 1)));
        continue;
      }
      if (response.status >= 300) throw new Error(`POST /events/bulk answered ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
      break;
    }
  }
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(1);

async function report(label: string, dataDir: string, pid: number): Promise<void> {
  const parts = ['log', 'state', 'chdb', 'buffer'];
  const sizes = Object.fromEntries(parts.map((part) => [part, du(path.join(dataDir, part))]));
  const total = du(dataDir);
  const other = total - Object.values(sizes).reduce((a, b) => a + b, 0);
  const line = parts.map((part) => `${part} ${mb(sizes[part]!)}`).join(', ');
  console.log(`${label}: DATA_DIR ${mb(total)} MB reserved (${line}, other ${mb(other)}); RocksDB instances ${rocksInstances(dataDir)}; RSS ${mb(rssBytes(pid))} MB`);
  console.log(`  RSS: ${rssParts(pid)}`);
  console.log(`  V8 heap (MB): ${await heapParts(`${base}/metrics/prometheus`)}`);
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-footprint-'));
const [port, adminPort] = [await freePort(), await freePort()];
const base = `http://127.0.0.1:${port}`;
const env = {
  ...process.env,
  DATA_DIR: dataDir,
  PORT: String(port),
  ADMIN_PORT: String(adminPort),
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  KAFKA_BROKERS: '',
  KAFKA_BOOTSTRAP_SERVERS: '',
  CLICKHOUSE_URL: '',
  REDIS_URL: '',
};
// The service's log (warnings and errors) goes to DATA_DIR/../footprint-service.log: a crash is explained there.
const serviceLog = fs.openSync(`${dataDir}.service.log`, 'w');
const { command, args } = npmStartCommand(root);
const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', serviceLog, serviceLog] });
child.once('exit', (code, signal) => {
  if (code !== 0 && signal !== 'SIGTERM') console.error(`the service exited (code ${code}, signal ${signal}); its log: ${dataDir}.service.log`);
});
try {
  const readyMs = await waitReady(child, base);
  const readyAt = Date.now();
  console.log(`ready in ${(readyMs / 1000).toFixed(1)} s; MEMORY_LIMIT_MB=${process.env.MEMORY_LIMIT_MB ?? '(default)'}; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`);
  // Idle: tasks (and their RocksDB) open as partitions are assigned after /ready; wait until the
  // number of instances has not changed for 15 s (at most 120 s), then 2 s for the first flushes.
  let stableSince = Date.now();
  let instances = rocksInstances(dataDir);
  const idleDeadline = Date.now() + 120_000;
  while (Date.now() - stableSince < 15_000 && Date.now() < idleDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = rocksInstances(dataDir);
    if (now !== instances) [instances, stableSince] = [now, Date.now()];
  }
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await report('idle after start', dataDir, child.pid!);
  if (IDLE_LATER_S > 0) {
    const [idleFrom, idleCpuFrom, idleThreadsFrom] = [performance.now(), cpuSeconds(servicePid(child.pid!)!), await threadCpu(`${base}/metrics/prometheus`)];
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, readyAt + IDLE_LATER_S * 1000 - Date.now())));
    await report(`idle ${IDLE_LATER_S} s after ready`, dataDir, child.pid!);
    // What the idle service spends meanwhile: what allocates while idle runs here (issue 21).
    const idleSeconds = (performance.now() - idleFrom) / 1000;
    const idleThreads = await threadCpu(`${base}/metrics/prometheus`);
    const perThread = [...idleThreads].map(([thread, seconds]) => `${thread} ${(((seconds - (idleThreadsFrom.get(thread) ?? 0)) / idleSeconds) * 1000).toFixed(1)}`).join(', ');
    console.log(`  idle CPU (ms/s) over ${idleSeconds.toFixed(0)} s: process ${(((cpuSeconds(servicePid(child.pid!)!) - idleCpuFrom) / idleSeconds) * 1000).toFixed(1)}; by thread: ${perThread}`);
  }
  if (EVENTS > 0) {
    const started = performance.now();
    const idleCpu = cpuSeconds(servicePid(child.pid!)!);
    const idleThreads = await threadCpu(`${base}/metrics/prometheus`);
    await load(base, EVENTS);
    const seconds = (performance.now() - started) / 1000;
    console.log(`posted ${EVENTS} events in ${seconds.toFixed(1)} s (${Math.round(EVENTS / seconds)}/s)`);
    await report('right after the last event', dataDir, child.pid!);
    // Through the whole pipeline: the topology processed every event and the sink has no lag left.
    await throughPipeline(`${base}/metrics/prometheus`, EVENTS);
    const through = (performance.now() - started) / 1000;
    const cpu = cpuSeconds(servicePid(child.pid!)!) - idleCpu;
    console.log(`through the pipeline (processed, sink lag 0) ${through.toFixed(1)} s after the first post (${Math.round(EVENTS / through)}/s); CPU ${cpu.toFixed(1)} s since idle, ${((cpu / EVENTS) * 1e6).toFixed(0)} µs/event`);
    // Per thread (streamline_thread_cpu_seconds_total): the busiest one bounds the throughput on enough cores.
    const threadsCpu = await threadCpu(`${base}/metrics/prometheus`);
    console.log(`  CPU per event by thread (µs): ${[...threadsCpu].map(([thread, seconds]) => `${thread} ${(((seconds - (idleThreads.get(thread) ?? 0)) / EVENTS) * 1e6).toFixed(0)}`).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    await report(`${SETTLE_MS / 1000} s later`, dataDir, child.pid!);
  }
} finally {
  await new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
  fs.rmSync(dataDir, { recursive: true, force: true });
}

/**
 * The service started the way users start it: package.json's start script (what `npm start` runs:
 * the compiled dist/, built first when the sources are newer) on embedded defaults, every role,
 * on 127.0.0.1 with free ports, a fresh DATA_DIR, and what a soak needs to watch from outside:
 * the service's pid (the start script's node child), its RSS from /proc, its CPU time, and `du`
 * of DATA_DIR by part.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const READY_TIMEOUT_MS = 180_000;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Reserved bytes (du -s --block-size=1): preallocated-but-empty files count, sparse holes do not. */
export function duBytes(target: string): number {
  if (!fs.existsSync(target)) return 0;
  // du exits 1 when RocksDB deletes a file between its listing and its stat; the total is still printed.
  const result = spawnSync('du', ['-s', '--block-size=1', target]);
  return Number(result.stdout.toString().split('\t')[0]) || 0;
}

/** A field of /proc/<pid>/status in kB (0 when the process is gone). */
export function statusKb(pid: number, field: string): number {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
    return Number(line?.split(/\s+/)[1] ?? 0);
  } catch {
    return 0;
  }
}

/** User + system CPU seconds of a process so far (/proc/<pid>/stat, clock ticks of 1/100 s). */
export function cpuSeconds(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function childPids(pid: number): number[] {
  try {
    const direct = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return direct.flatMap((child) => [child, ...childPids(child)]);
  } catch {
    return [];
  }
}

/**
 * What `npm start` runs in `tree`: package.json's "start" script (today `node scripts/start.mjs`
 * or a launcher such as `sh scripts/start.sh` that execs node in the same process), run directly
 * rather than through npm, so the spawned pid is the service's (or its parent, see `pid`).
 */
export function npmStartCommand(tree: string): { command: string; args: string[] } {
  const script = (JSON.parse(fs.readFileSync(path.join(tree, 'package.json'), 'utf8')) as { scripts?: { start?: string } }).scripts?.start;
  if (!script || /[|&;<>$`"']/.test(script)) throw new Error(`${tree}/package.json: the start script "${script}" is not a plain command this bench can run`);
  const [command, ...args] = script.trim().split(/\s+/);
  return { command: command === 'node' ? process.execPath : command!, args };
}

export const DATA_DIR_PARTS = ['log', 'state', 'chdb', 'buffer'] as const;
export type DataDirPart = (typeof DATA_DIR_PARTS)[number];

export class NpmStartService {
  private constructor(
    private readonly child: ChildProcess,
    readonly base: string,
    readonly clickhouseHttp: string,
    readonly dataDir: string,
    readonly logFile: string,
  ) {}

  /** Starts `tree`'s `npm start` command and resolves once GET /ready answers 200. */
  static async start(tree: string, env: Record<string, string> = {}): Promise<NpmStartService> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-soak-'));
    const [port, adminPort, clickhousePort] = [await freePort(), await freePort(), await freePort()];
    const logFile = `${dataDir}.service.log`;
    const serviceLog = fs.openSync(logFile, 'w');
    const { command, args } = npmStartCommand(tree);
    const child = spawn(command, args, {
      cwd: tree,
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        PORT: String(port),
        ADMIN_PORT: String(adminPort),
        CLICKHOUSE_HTTP_PORT: String(clickhousePort),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        // Embedded defaults whatever the caller's shell exports.
        KAFKA_BROKERS: '',
        KAFKA_BOOTSTRAP_SERVERS: '',
        CLICKHOUSE_URL: '',
        CLICKHOUSE_HOST: '',
        REDIS_URL: '',
        ...env,
      },
      stdio: ['ignore', serviceLog, serviceLog],
    });
    const service = new NpmStartService(child, `http://127.0.0.1:${port}`, `http://127.0.0.1:${clickhousePort}`, dataDir, logFile);
    await service.waitReady();
    return service;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (this.exited) throw new Error(`the service exited before it was ready (code ${this.child.exitCode}); its log: ${this.logFile}`);
      if (Date.now() > deadline) throw new Error(`not ready within ${READY_TIMEOUT_MS} ms; its log: ${this.logFile}`);
      try {
        if ((await fetch(`${this.base}/ready`)).status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The service process: the largest RSS among the start script and its children (start.mjs imports main in-process today). */
  get pid(): number {
    let best = this.child.pid!;
    let max = -1;
    for (const p of [this.child.pid!, ...childPids(this.child.pid!)]) {
      const rss = statusKb(p, 'VmRSS');
      if (rss > max) [best, max] = [p, rss];
    }
    return best;
  }

  rssBytes(): { rss: number; anon: number; file: number } {
    const pid = this.pid;
    return { rss: statusKb(pid, 'VmRSS') * 1024, anon: statusKb(pid, 'RssAnon') * 1024, file: statusKb(pid, 'RssFile') * 1024 };
  }

  cpuSeconds(): number {
    return cpuSeconds(this.pid);
  }

  /** du of DATA_DIR's parts and its total from one scan (separate scans disagree while RocksDB and chDB replace files). */
  diskBytes(): Record<DataDirPart | 'total', number> {
    const bytes: Record<DataDirPart | 'total', number> = { log: 0, state: 0, chdb: 0, buffer: 0, total: 0 };
    // du exits 1 when a file goes between its listing and its stat; the sizes are still printed.
    const result = spawnSync('du', ['--block-size=1', '--max-depth=1', this.dataDir]);
    for (const line of result.stdout.toString().split('\n')) {
      const [size, dir] = line.split('\t');
      if (dir === undefined) continue;
      const name = path.relative(this.dataDir, dir);
      if (name === '') bytes.total = Number(size);
      else if ((DATA_DIR_PARTS as readonly string[]).includes(name)) bytes[name as DataDirPart] = Number(size);
    }
    return bytes;
  }

  /** du of every top-level entry of DATA_DIR: where "other" is. */
  diskByEntry(): Record<string, number> {
    return Object.fromEntries(fs.readdirSync(this.dataDir).map((name) => [name, duBytes(path.join(this.dataDir, name))]));
  }

  /** The service's Prometheus text (the public listener's /metrics/prometheus). */
  async metricsText(): Promise<string> {
    return (await fetch(`${this.base}/metrics/prometheus`)).text();
  }

  /** One SQL answer through the read-only ClickHouse HTTP interface (what an analyst queries). */
  async sql(query: string): Promise<string> {
    const response = await fetch(`${this.clickhouseHttp}/?query=${encodeURIComponent(query)}`);
    const text = await response.text();
    if (response.status !== 200) throw new Error(`ClickHouse HTTP answered ${response.status}: ${text.slice(0, 300)}`);
    return text.trim();
  }

  /** SIGTERM (a clean stop), SIGKILL after 60 s; DATA_DIR is removed unless asked to keep it. */
  async stop(keepDataDir = false): Promise<void> {
    if (!this.exited) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    }
    if (!keepDataDir) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** CPU seconds so far of each thread that reports streamline_thread_cpu_seconds_total{thread}, from Prometheus text. */
export function threadCpuSeconds(text: string): Map<string, number> {
  const threads = new Map<string, number>();
  for (const match of text.matchAll(/^streamline_thread_cpu_seconds_total\{thread="([^"]+)"\} (\S+)$/gm)) threads.set(match[1]!, Number(match[2]));
  return threads;
}

/** Sum of every series of a metric (any labels) in Prometheus text; undefined when absent. */
export function metricSum(text: string, name: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}

/**
 * The service under test as a child process (bench/service/serve.ts), so its CPU, memory and
 * event loop are its own. Snapshots of its resource usage bracket each measured window.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface ServiceStats {
  cpuMicros: number;
  maxRssBytes: number;
  rssBytes: number;
  /** Records in the landing topic (sum of its partitions' end offsets); 0 for the baseline. */
  landed: number;
  /** Event-loop delay since the previous snapshot (ms). */
  loop: { p50Ms: number; p99Ms: number; maxMs: number };
  at: number;
}

export interface ServiceOptions {
  mode: 'baseline' | 'pipeline';
  env?: Record<string, string>;
  /** Write a V8 CPU profile of the service into this directory (node --cpu-prof). */
  cpuProfDir?: string;
  /** Where the service's pino output goes. */
  logFile?: string;
}

export class ServiceProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly address: string,
    readonly dataDir: string | undefined,
  ) {}

  static async start(options: ServiceOptions): Promise<ServiceProcess> {
    const dataDir = options.mode === 'pipeline' ? fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-bench-')) : undefined;
    // BENCH_SERVICE_NODE_ARGS: extra node flags for the service only (e.g. --max-semi-space-size=64),
    // to measure a runtime setting without touching the load generator's process.
    const execArgv = ['--import', 'tsx', ...(process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean)];
    if (options.cpuProfDir) {
      fs.mkdirSync(options.cpuProfDir, { recursive: true });
      execArgv.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`);
    }
    const child = fork(path.join(here, '../service/serve.ts'), [options.mode], {
      execArgv,
      env: {
        ...process.env,
        LOG_LEVEL: 'info',
        ...(dataDir ? { DATA_DIR: dataDir } : {}),
        ...(options.logFile ? { BENCH_SERVICE_LOG: options.logFile } : {}),
        ...options.env,
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`service (${options.mode}) did not start within 60 s`)), 60_000);
      child.once('exit', (code) => reject(new Error(`service (${options.mode}) exited with ${code} before it was ready`)));
      child.on('message', (message: { type: string; address?: string }) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolve(message.address!);
        }
      });
    });
    return new ServiceProcess(child, address.replace('0.0.0.0', '127.0.0.1'), dataDir);
  }

  stats(): Promise<ServiceStats> {
    return new Promise((resolve) => {
      const onMessage = (message: { type: string } & Omit<ServiceStats, 'at'>) => {
        if (message.type !== 'stats') return;
        this.child.off('message', onMessage);
        resolve({ ...message, at: performance.now() });
      };
      this.child.on('message', onMessage);
      this.child.send({ type: 'stats' });
    });
  }

  /** Clean stop (the pipeline drains and commits; a --cpu-prof profile is written), bounded. */
  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => {
      if (this.child.exitCode !== null) resolve();
      else this.child.once('exit', () => resolve());
    });
    this.child.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(timer);
    if (this.dataDir) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** CPU (% of one core) and memory of the service between two snapshots. */
export function usageBetween(before: ServiceStats, after: ServiceStats): { cpuPercent: number; peakRssMb: number; loopDelayP99Ms: number; loopDelayMaxMs: number } {
  const wallMicros = (after.at - before.at) * 1000;
  return {
    cpuPercent: Math.round((100 * (after.cpuMicros - before.cpuMicros)) / wallMicros),
    peakRssMb: Math.round(after.maxRssBytes / 1024 / 1024),
    loopDelayP99Ms: Math.round(after.loop.p99Ms),
    loopDelayMaxMs: Math.round(after.loop.maxMs),
  };
}

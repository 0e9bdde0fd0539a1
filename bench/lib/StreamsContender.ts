/**
 * The two stream processors the kafka bench compares, each in its own process:
 * - ours: bench/kafka-topology.ts (our DSL + StreamsApp on the KafkaLog), under node --import tsx;
 * - peer: bench/peer (Kafka Streams 4.1.1), a shaded jar built once with Maven and reused.
 * Both take the same settings (bootstrap, input, output, application.id, state.dir,
 * commit.interval.ms, threads = Kafka Streams' num.stream.threads), print "state RUNNING" when
 * started, and stop on SIGTERM or stdin EOF.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = path.resolve(benchDir, '..');
const peerDir = path.join(benchDir, 'peer');
export const PEER_JAR = path.join(peerDir, 'target/streamline-peer.jar');

export type ContenderName = 'ours' | 'peer';

export interface ContenderSettings {
  bootstrap: string;
  input: string;
  output: string;
  applicationId: string;
  stateDir: string;
  commitIntervalMs: number;
  /** Stream threads: ours runs one StreamsApp per worker thread (one consumer group), the peer num.stream.threads. */
  threads: number;
  /** stdout and stderr of the process go here. */
  logFile: string;
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

/** Builds the peer jar unless it exists and is newer than pom.xml and src/ (the first build downloads from Maven Central). */
export async function ensurePeerJar(log: (line: string) => void): Promise<{ built: boolean; seconds: number }> {
  const sourcesAt = Math.max(fs.statSync(path.join(peerDir, 'pom.xml')).mtimeMs, newestSource(path.join(peerDir, 'src')));
  if (fs.existsSync(PEER_JAR) && fs.statSync(PEER_JAR).mtimeMs >= sourcesAt) return { built: false, seconds: 0 };
  log('kafka: building the Kafka Streams peer (mvn -q -B -f bench/peer/pom.xml package)');
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const mvn = spawn('mvn', ['-q', '-B', '-f', path.join(peerDir, 'pom.xml'), 'package'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    mvn.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    mvn.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    mvn.once('error', (error) => reject(new Error(`mvn not runnable (Maven is needed for the Kafka Streams peer): ${error.message}`)));
    mvn.once('exit', (code) => (code === 0 && fs.existsSync(PEER_JAR) ? resolve() : reject(new Error(`peer build failed (exit ${code}):\n${output.slice(-4000)}`))));
  });
  const seconds = (performance.now() - started) / 1000;
  log(`kafka: peer built in ${seconds.toFixed(0)} s`);
  return { built: true, seconds };
}

/** CPU seconds (user + system) and peak RSS of a running process, from /proc (Linux). */
export function processUsage(pid: number): { cpuSeconds: number; peakRssMb: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    return { cpuSeconds: ticks / 100, peakRssMb: hwm ? Math.round(Number(hwm[1]) / 1024) : 0 };
  } catch {
    return undefined;
  }
}

export class RunningContender {
  private lastUsage: { cpuSeconds: number; peakRssMb: number } | undefined;
  private readonly exited: Promise<number | null>;
  private readonly running: Promise<void>;

  constructor(
    readonly name: ContenderName,
    private readonly child: ChildProcess,
    logFile: string,
  ) {
    const out = fs.createWriteStream(logFile, { flags: 'a' });
    let resolveRunning!: () => void;
    this.running = new Promise((resolve) => (resolveRunning = resolve));
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out.write(chunk);
      buffered += chunk.toString();
      if (/state RUNNING/.test(buffered)) resolveRunning();
      if (buffered.length > 4096) buffered = buffered.slice(-64);
    });
    child.stderr!.pipe(out);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Resolves when the process reports RUNNING; rejects if it exits first or takes longer than timeoutMs. */
  async waitRunning(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.running,
        this.exited.then((code) => Promise.reject(new Error(`${this.name} exited with ${code} before it was running (see its log)`))),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${this.name} not running after ${timeoutMs} ms`)), timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** CPU seconds used so far and peak RSS (the last values read while it was alive). */
  usage(): { cpuSeconds: number; peakRssMb: number } {
    const now = this.child.pid ? processUsage(this.child.pid) : undefined;
    if (now) this.lastUsage = now;
    return this.lastUsage ?? { cpuSeconds: 0, peakRssMb: 0 };
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM (clean close), SIGKILL after 40 s. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.usage();
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 40_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export function startContender(name: ContenderName, settings: ContenderSettings): RunningContender {
  const args = [
    `bootstrap=${settings.bootstrap}`,
    `input=${settings.input}`,
    `output=${settings.output}`,
    `application.id=${settings.applicationId}`,
    `state.dir=${settings.stateDir}`,
    `commit.interval.ms=${settings.commitIntervalMs}`,
    `threads=${settings.threads}`,
  ];
  // stdin stays a pipe the bench never closes: its EOF (the bench died) stops the contender.
  const child =
    name === 'ours'
      ? spawn(process.execPath, ['--import', 'tsx', path.join(benchDir, 'kafka-topology.ts'), ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } })
      : spawn('java', [...(process.env.BENCH_PEER_JAVA_OPTS ?? '-Xms256m -Xmx1g').split(' ').filter(Boolean), '-jar', PEER_JAR, ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  return new RunningContender(name, child, settings.logFile);
}

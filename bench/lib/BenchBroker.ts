/**
 * The Kafka broker of the kafka bench group: the one given in BENCH_KAFKA_BROKERS, or our own,
 * started through scripts/kafka-broker.sh (the script behind `npm run kafka`) on a free pair of
 * ports with a temp state dir, and stopped (dir deleted) at the end. Never a broker someone else
 * started: a test run's broker is loaded by its tests, and stopping it would break them.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const script = path.join(root, 'scripts/kafka-broker.sh');

export interface BenchBroker {
  brokers: string;
  /** True when this bench started it (and stop() stops it). */
  owned: boolean;
  stop(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 30000 + Math.floor(Math.random() * 10000) * 2;
    if ((await portFree(port)) && (await portFree(port + 1))) return port;
  }
  throw new Error('no free pair of ports for the bench broker');
}

function runScript(command: 'start' | 'stop', port: number, stateDir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, command], {
      // KAFKA_OWNER_PID: the script's watchdog stops the broker if the bench dies without stop().
      env: { ...process.env, KAFKA_PORT: String(port), KAFKA_STATE_DIR: stateDir, KAFKA_OWNER_PID: String(process.pid) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(stdout.trim()) : reject(new Error(`kafka-broker.sh ${command} exited ${code}: ${stderr.trim()}`))));
  });
}

export async function startBenchBroker(log: (line: string) => void): Promise<BenchBroker> {
  const given = process.env.BENCH_KAFKA_BROKERS;
  if (given) {
    log(`kafka: using BENCH_KAFKA_BROKERS=${given} (not started or stopped by the bench)`);
    return { brokers: given, owned: false, stop: async () => undefined };
  }
  const port = await freePortPair();
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-bench-kafka-'));
  const started = performance.now();
  await runScript('start', port, stateDir);
  log(`kafka: own broker on 127.0.0.1:${port} (state ${stateDir}) ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return {
    brokers: `127.0.0.1:${port}`,
    owned: true,
    stop: async () => {
      await runScript('stop', port, stateDir);
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

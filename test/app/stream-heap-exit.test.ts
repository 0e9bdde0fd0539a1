/**
 * Issue 21: a stream thread that runs out of its V8 heap (resourceLimits from the memory plan, here
 * a tiny STREAM_HEAP_MB) ends the process promptly, non-zero, with one line naming the thread, its
 * limit and the setting; it never hangs. A restart on the same DATA_DIR then counts every
 * acknowledged event exactly once (every commit is atomic: the restart recovers as after SIGKILL).
 * With chDB's queries in flight the thread can die inside chDB's addon without reporting its exit
 * (app/threads/WorkerSilence.ts): the process then ends through the silence check and the watchdog.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WORKER_SILENCE_LIMIT_MS } from '../../app/threads/PipelineWorker.js';

/** Small enough that full-capacity load runs the stream thread out of heap within seconds (the default plan gives 199). */
const TINY_STREAM_HEAP_MB = 48;
/** From the fatal line to the process's end: the orderly stop, or the watchdog's SIGKILL at 5 s. */
const EXIT_BOUND_MS = 8_000;
const BULK = 100;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Service {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** When the first fatal (level 60) line arrived, and its message. */
  fatal: Promise<{ msg: string; at: number }>;
}

function startService(env: Record<string, string>): Service {
  const child = spawn(process.execPath, ['--import', 'tsx', 'app/main.ts'], {
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'warn', KAFKA_BROKERS: '', REDIS_URL: '', CLICKHOUSE_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let onFatal!: (fatal: { msg: string; at: number }) => void;
  const fatal = new Promise<{ msg: string; at: number }>((resolve) => (onFatal = resolve));
  const read = (chunk: Buffer) => {
    output += chunk.toString();
    for (const line of chunk.toString().split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as { level: number; msg: string };
      if (entry.level === 60) onFatal({ msg: entry.msg, at: Date.now() });
    }
  };
  child.stdout!.on('data', read);
  child.stderr!.on('data', read);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  return { child, output: () => output, exited, fatal };
}

async function waitUntilListening(port: number, service: Service): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null) throw new Error(`the service exited before listening: ${service.output()}`);
    const answered = await fetch(`http://127.0.0.1:${port}/health`).then(
      () => true,
      () => false,
    );
    if (answered) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the service did not listen within 90 s: ${service.output()}`);
}

/** Bulk requests of events with ids `r<request>-<i>`, from `connections` loops until `until` settles; which requests were acknowledged, and when the last. */
async function loadUntil(port: number, connections: number, until: Promise<unknown>): Promise<{ acked: Set<number>; sent: number; lastAckAt: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const acked = new Set<number>();
  let lastAckAt = Date.now();
  let next = 0;
  let done = false;
  void until.then(() => (done = true));
  const post = (request: number) =>
    new Promise<number>((resolve) => {
      const events = Array.from({ length: BULK }, (_, i) => `{"event_id":"r${request}-${i}","event_name":"product_view","channel":"web","user_id":"user_${(request * BULK + i) % 5000}","timestamp":${Date.now()}}`);
      const body = Buffer.from(`[${events.join(',')}]`);
      const call = http.request({ agent, host: '127.0.0.1', port, method: 'POST', path: '/events/bulk', headers: { 'content-type': 'application/json', 'content-length': String(body.length) } }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', () => resolve(0));
      });
      call.on('error', () => resolve(0));
      call.end(body);
    });
  const loop = async () => {
    while (!done) {
      const request = next++;
      const status = await post(request);
      if (status >= 200 && status < 300) {
        acked.add(request);
        lastAckAt = Date.now();
      }
      else if (status === 0) await Promise.race([until, new Promise((resolve) => setTimeout(resolve, 50))]);
      else if (status === 429 || status === 503) await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  agent.destroy();
  return { acked, sent: next, lastAckAt };
}

async function eventIds(clickhousePort: number): Promise<string[]> {
  const response = await fetch(`http://127.0.0.1:${clickhousePort}/?query=${encodeURIComponent('SELECT event_id FROM events_db.events_raw FORMAT TSV')}`);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`ClickHouse HTTP answered ${response.status}: ${text.slice(0, 300)}`);
  return text.split('\n').filter((line) => line !== '');
}

/** Queries on the ClickHouse HTTP listener (chDB, in the stream thread) from `connections` loops until `until` settles. */
async function queryUntil(clickhousePort: number, connections: number, until: Promise<unknown>): Promise<void> {
  let done = false;
  void until.then(() => (done = true));
  const loop = async () => {
    while (!done) {
      const answered = await fetch(`http://127.0.0.1:${clickhousePort}/?query=${encodeURIComponent('SELECT count(), uniqExact(event_id) FROM events_db.events_raw')}`).then(
        (response) => response.text().then(() => true),
        () => false,
      );
      if (!answered) await Promise.race([until, new Promise((resolve) => setTimeout(resolve, 50))]);
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
}

/**
 * Runs the stream thread out of heap under full-capacity load (and chDB queries, when asked), checks
 * how the process ended with `expectEnd`, restarts on the same DATA_DIR and checks the count.
 */
async function outOfHeapThenRestart(withQueries: boolean, expectEnd: (end: { fatal: { msg: string; at: number }; exit: { code: number | null; signal: NodeJS.Signals | null; at: number }; lastAckAt: number; output: string }) => void): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-stream-heap-'));
  const [port, clickhousePort] = [await freePort(), await freePort()];
  const env = { PORT: String(port), CLICKHOUSE_HTTP_PORT: String(clickhousePort), DATA_DIR: dataDir };
  let restarted: Service | undefined;
  try {
    const starved = startService({ ...env, STREAM_HEAP_MB: String(TINY_STREAM_HEAP_MB) });
    await waitUntilListening(port, starved);
    const [{ acked, sent, lastAckAt }] = await Promise.all([loadUntil(port, 8, starved.exited), withQueries ? queryUntil(clickhousePort, 4, starved.exited) : undefined]);
    const [fatal, exit] = await Promise.all([starved.fatal, starved.exited]);
    expect(exit.code ?? exit.signal).not.toBe(0);
    expect(starved.output().match(/"level":60/g)).toHaveLength(1);
    expectEnd({ fatal, exit, lastAckAt, output: starved.output() });
    expect(acked.size).toBeGreaterThan(0);

    restarted = startService(env);
    await waitUntilListening(port, restarted);
    const ackedIds = [...acked].flatMap((request) => Array.from({ length: BULK }, (_, i) => `r${request}-${i}`));
    const deadline = Date.now() + 120_000;
    let counted: string[] = [];
    let missing = ackedIds.length;
    while (Date.now() < deadline) {
      counted = await eventIds(clickhousePort).catch(() => []);
      const present = new Set(counted);
      missing = ackedIds.filter((id) => !present.has(id)).length;
      if (missing === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(missing).toBe(0);
    // Exactly once: no event twice, and nothing but what was sent (acknowledged, or in flight at the crash).
    expect(new Set(counted).size).toBe(counted.length);
    expect(counted.every((id) => Number(/^r(\d+)-/.exec(id)?.[1]) < sent)).toBe(true);
  } finally {
    if (restarted && restarted.child.exitCode === null) {
      restarted.child.kill('SIGTERM');
      await restarted.exited;
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

describe('a stream thread out of heap', () => {
  test('the process exits non-zero within the bound with one line naming the thread, the limit and the setting; a restart counts exactly once', async () => {
    await outOfHeapThenRestart(false, ({ fatal, exit }) => {
      expect(exit.at - fatal.at).toBeLessThan(EXIT_BOUND_MS);
      expect(fatal.msg).toBe(`thread stream-1 ran out of its V8 heap of ${TINY_STREAM_HEAP_MB} MB (old generation): raise STREAM_HEAP_MB: exiting (a restart resumes from the last commit)`);
    });
  }, 300_000);

  test('with chDB queries in flight, where the thread can die without reporting its exit, the process still ends within the bound; a restart counts exactly once', async () => {
    await outOfHeapThenRestart(true, ({ fatal, exit, lastAckAt }) => {
      // Either the exit was reported, or the worker fell silent (WORKER_SILENCE_LIMIT_MS) and the watchdog ended a blocked exit.
      expect(fatal.msg).toMatch(new RegExp(`^thread stream-1 (ran out of its V8 heap of ${TINY_STREAM_HEAP_MB} MB|has sent nothing for \\d+ s).*raise STREAM_HEAP_MB`));
      expect(exit.at - fatal.at).toBeLessThan(EXIT_BOUND_MS);
      expect(exit.at - lastAckAt).toBeLessThan(WORKER_SILENCE_LIMIT_MS + EXIT_BOUND_MS + 10_000);
    });
  }, 300_000);
});

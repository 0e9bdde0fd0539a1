/**
 * The service as `npm start` runs it (app/main.ts, embedded defaults) in a child process, bulk
 * load on its public listener, and its events_raw read back through its ClickHouse HTTP listener:
 * for tests of how the process ends under load and what a restart then counts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { removeDir, tempDir } from '../../support/temp-dir.js';

/** Events per bulk request; request r carries the events `r<r>-0` .. `r<r>-<BULK - 1>`. */
export const BULK = 100;

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

export interface ServiceProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<ServiceExit>;
  /** When the first fatal (level 60) line arrived, and its message; pending while there is none. */
  fatal: Promise<{ msg: string; at: number }>;
  /** The messages of the JSON log lines so far, in order. */
  messages: () => string[];
  /** The messages of the lines logged at error level or above. */
  errors: () => string[];
}

export function startServiceProcess(env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'app/main.ts'], {
    // ADMIN_PORT 0: with a fixed PORT the admin listener defaults to 8081, where suites running side by side collide.
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'info', ADMIN_PORT: '0', KAFKA_BROKERS: '', REDIS_URL: '', CLICKHOUSE_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const messages: string[] = [];
  const errors: string[] = [];
  let onFatal!: (fatal: { msg: string; at: number }) => void;
  const fatal = new Promise<{ msg: string; at: number }>((resolve) => (onFatal = resolve));
  // One partial line per stream: stdout's and stderr's chunks interleave, and a line cut across two
  // chunks of one stream would otherwise be joined with the other stream's text and lost.
  const reader = () => {
    let partial = '';
    return (chunk: Buffer) => {
      output += chunk.toString();
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        try {
          const entry = JSON.parse(line) as { level: number; msg: string };
          messages.push(entry.msg);
          if (entry.level >= 50) errors.push(entry.msg);
          if (entry.level === 60) onFatal({ msg: entry.msg, at: Date.now() });
        } catch {
          // Not a log line (a native library's own output starting with a brace).
        }
      }
    };
  };
  child.stdout!.on('data', reader());
  child.stderr!.on('data', reader());
  // Resolved once the pipes are drained too ('close'): at 'exit' the last lines may still be unread.
  let exitedAt = 0;
  child.once('exit', () => (exitedAt = Date.now()));
  const exited = new Promise<ServiceExit>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, at: exitedAt || Date.now() })));
  return { child, output: () => output, exited, fatal, messages: () => messages, errors: () => errors };
}

export async function waitUntilListening(port: number, service: ServiceProcess): Promise<void> {
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

/** One data directory and two free ports (public, ClickHouse HTTP) for services started on them one after another. */
export interface ServiceRun {
  readonly port: number;
  readonly clickhousePort: number;
  /** Starts the service on the run's directory and ports (`env` on top) and waits until it listens. */
  start(env?: Record<string, string>): Promise<ServiceProcess>;
}

/**
 * Runs `body` on a fresh ServiceRun; then, whatever happened, kills a service it left running and
 * removes the directory. SIGKILL: the cleanup must not wait on a stop that may be what failed.
 */
export async function withServiceRun(prefix: string, body: (run: ServiceRun) => Promise<void>): Promise<void> {
  const dataDir = tempDir(prefix);
  const started: ServiceProcess[] = [];
  try {
    const [port, clickhousePort] = [await freePort(), await freePort()];
    // countedOnceAcked reads every event id back: a fast machine acknowledges more than the listener's
    // default 1,000,000 result rows (1,104,000 on CI, Node 24, 2026-12-07: TOO_MANY_ROWS_OR_BYTES).
    const env = { PORT: String(port), CLICKHOUSE_HTTP_PORT: String(clickhousePort), DATA_DIR: dataDir, CLICKHOUSE_HTTP_MAX_RESULT_ROWS: '100000000', CLICKHOUSE_HTTP_MAX_RESULT_BYTES: '2000000000' };
    const start = async (extra: Record<string, string> = {}) => {
      const service = startServiceProcess({ ...env, ...extra });
      started.push(service);
      await waitUntilListening(port, service);
      return service;
    };
    await body({ port, clickhousePort, start });
  } finally {
    for (const service of started) {
      if (service.child.exitCode !== null || service.child.signalCode !== null) continue;
      service.child.kill('SIGKILL');
      await service.exited;
    }
    removeDir(dataDir);
  }
}

export interface LoadOutcome {
  /** Requests answered 2xx: their events must be counted, once. */
  acked: Set<number>;
  /** Requests answered with a refusal (4xx/5xx): their events must not be counted. */
  refused: Set<number>;
  /** The next request's number: requests firstRequest .. next - 1 were sent; those neither acked nor refused lost their answer. */
  next: number;
  /** When the last acknowledgement arrived (the load's start, if none did). */
  lastAckAt: number;
}

/**
 * Bulk requests from `connections` loops until `until` settles, then what became of each. Requests
 * are numbered from `firstRequest` (a later load on the same data goes on from the last one's next).
 */
export async function loadUntil(port: number, connections: number, until: Promise<unknown>, firstRequest = 0): Promise<LoadOutcome> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const acked = new Set<number>();
  const refused = new Set<number>();
  let lastAckAt = Date.now();
  let next = firstRequest;
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
      } else if (status !== 0) refused.add(request);
      if (status === 0) await Promise.race([until, new Promise((resolve) => setTimeout(resolve, 50))]);
      else if (status === 429 || status === 503) await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  agent.destroy();
  return { acked, refused, next, lastAckAt };
}

/** Queries on the ClickHouse HTTP listener (chDB, in the sink's thread) from `connections` loops until `until` settles. */
export async function queryUntil(clickhousePort: number, connections: number, until: Promise<unknown>): Promise<void> {
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
 * Requests that reach chDB through the HTTP thread, from one loop until `until` settles: seed 004's
 * GET /metrics (the analytics query on the sink's thread) and GET /ready (its ping).
 */
export async function analyticsUntil(port: number, until: Promise<unknown>): Promise<void> {
  let done = false;
  void until.then(() => (done = true));
  while (!done) {
    const answered = await Promise.all(
      ['/metrics?event_name=product_view', '/ready'].map((path) =>
        fetch(`http://127.0.0.1:${port}${path}`).then(
          (response) => response.text().then(() => true),
          () => false,
        ),
      ),
    );
    if (!answered.every(Boolean)) await Promise.race([until, new Promise((resolve) => setTimeout(resolve, 50))]);
  }
}

export async function eventIds(clickhousePort: number): Promise<string[]> {
  const response = await fetch(`http://127.0.0.1:${clickhousePort}/?query=${encodeURIComponent('SELECT event_id FROM events_db.events_raw FORMAT TSV')}`);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`ClickHouse HTTP answered ${response.status}: ${text.slice(0, 300)}`);
  return text.split('\n').filter((line) => line !== '');
}

/** The request an event id came from (`r<request>-<i>`). */
export function requestOf(eventId: string): number {
  return Number(/^r(\d+)-/.exec(eventId)?.[1]);
}

/**
 * Polls events_raw until every acknowledged event is there (or `withinMs` passed), then returns
 * what it holds and how many acknowledged events are missing.
 */
export async function countedOnceAcked(clickhousePort: number, acked: Set<number>, withinMs: number): Promise<{ counted: string[]; missing: number }> {
  const ackedIds = [...acked].flatMap((request) => Array.from({ length: BULK }, (_, i) => `r${request}-${i}`));
  const deadline = Date.now() + withinMs;
  let counted: string[] = [];
  let missing = ackedIds.length;
  let lastError: Error | undefined;
  while (Date.now() < deadline) {
    try {
      counted = await eventIds(clickhousePort);
      lastError = undefined;
    } catch (error) {
      // The listener may not answer yet after a restart; an error that lasts is the result.
      lastError = error as Error;
      counted = [];
    }
    const present = new Set(counted);
    missing = ackedIds.filter((id) => !present.has(id)).length;
    if (missing === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  if (lastError) throw new Error(`reading the event ids back failed until the end: ${lastError.message}`);
  return { counted, missing };
}

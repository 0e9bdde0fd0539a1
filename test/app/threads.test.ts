/**
 * Issue 13: `npm start` spreads the process over threads (app/threads/): the HTTP thread runs
 * the ingress only; the embedded log, the stream threads and the sink run in workers. What a user
 * sees must not change: admin routes, interactive queries, metrics, readiness and analytics are
 * answered through the HTTP thread from the threads that hold them.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startService, type RunningService } from '../../app/Service.js';
import { call } from './support/http-client.js';

const TOKEN = 'threads-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function postAttempts(address: string, users: string[], perUser: number): Promise<void> {
  for (const user of users) {
    for (let i = 0; i < perUser; i++) {
      const answer = await call(address, '/api/v1/events/attempt', {
        body: { user_id: user, item_id: `item-${i}`, session_id: 's-1', client_attempt_id: `${user}-attempt-${i}`, correct: i % 2 === 0, time_taken_ms: 1000 + i },
      });
      expect(answer.status).toBeLessThan(300);
    }
  }
}

/** Waits for stream-thread commits until the topology has processed `count` attempts (seed 002's counter, summed over threads). */
async function processed(pipeline: RunningService, count: number): Promise<string> {
  for (;;) {
    const text = (await call(pipeline.address, '/metrics/prometheus')).text;
    if (value(text, 'events_processed_total{event_type="attempt"}') >= count) return text;
    await once(pipeline.threads!, 'commit');
  }
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each([1, 2])('STREAM_THREADS=%i on embedded defaults', (streamThreads) => {
  let pipeline: RunningService;
  let dataDir: string;
  const users = ['u-a', 'u-b', 'u-c', 'u-d', 'u-e', 'u-f'];
  const perUser = 3;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-threads-'));
    pipeline = await startService(
      { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', ADMIN_PORT: '0', ADMIN_TOKEN: TOKEN, CLICKHOUSE_HTTP_PORT: 'off', LOG_LEVEL: 'warn', STREAM_THREADS: String(streamThreads), SINK_BATCH_LINGER: '50ms' },
      pino({ level: 'warn' }),
    );
    await pipeline.started;
  }, 120_000);

  afterAll(async () => {
    await pipeline?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('the topology and the sink run in worker threads, not on the HTTP thread; with one stream thread the sink runs in it', () => {
    expect(pipeline.streams).toBeUndefined();
    expect(pipeline.threads!.streamWorkers.map((worker) => worker.name)).toEqual(Array.from({ length: streamThreads }, (_, i) => `stream-${i + 1}`));
    // One stream thread (2 cores): one isolate fewer (issue 21: idle RSS); more: the sink has its own thread.
    expect(pipeline.threads!.sinkWorker?.name).toBe(streamThreads === 1 ? 'stream-1' : 'sink');
    expect(pipeline.threads!.workers().map((worker) => worker.name)).toEqual(streamThreads === 1 ? ['stream-1'] : ['stream-1', 'stream-2', 'sink']);
  });

  test('events are processed once across the threads; metrics of every thread on one endpoint', async () => {
    await postAttempts(pipeline.address, users, perUser);
    const text = await processed(pipeline, users.length * perUser);
    expect(value(text, 'events_processed_total{event_type="attempt"}')).toBe(users.length * perUser);
    // The log thread's, the stream threads' and this thread's own metrics.
    expect(text).toContain('# TYPE streamline_log_appended_records_total');
    expect(text).toContain('# TYPE streamline_topology_commits_total');
    expect(text).toContain('# TYPE process_cpu_seconds_total');
    expect(text).toContain('# TYPE streamline_topology_backlog_records gauge');
    // Every event reaches ClickHouse once, through the sink's thread.
    await until(
      async () => Number((await pipeline.analyticsSql<{ n: string }>("SELECT count() AS n FROM events_db.events_raw WHERE event_name = 'attempt'"))[0]!.n) >= users.length * perUser,
      'the sink',
    );
    const [row] = await pipeline.analyticsSql<{ n: string; u: string }>("SELECT count() AS n, uniqExact(event_id) AS u FROM events_db.events_raw WHERE event_name = 'attempt'");
    expect(Number(row!.n)).toBe(users.length * perUser);
    expect(Number(row!.u)).toBe(users.length * perUser);
  }, 120_000);

  test("seed 002's statistics routes count every stream thread's tasks", async () => {
    await processed(pipeline, users.length * perUser);
    const ask = async (url: string) => {
      const perThread = await Promise.all(pipeline.threads!.streamWorkers.map((worker) => worker.forward({ method: 'GET', url, headers: {} })));
      const answer = await call(pipeline.adminAddress!, url, { headers: auth });
      return { whole: answer.body as Record<string, unknown>, parts: perThread.map((p) => JSON.parse(Buffer.from(p.body).toString('utf8')) as Record<string, unknown>) };
    };
    const metrics = await ask('/metrics/processor');
    expect(metrics.whole.events_parsed_total).toBe(users.length * perUser);
    expect(metrics.whole.events_parsed_total).toBe(metrics.parts.reduce((total, part) => total + (part.events_parsed_total as number), 0));
    // Tasks are created as their partitions first get records, so a task can appear between the
    // per-thread answers and the merged one: ask again until one snapshot agrees (a merge that
    // dropped or invented a task disagrees on every attempt).
    const taskList = (parts: Array<Record<string, unknown>>) => parts.flatMap((part) => part.tasks as string[]).sort();
    let status = await ask('/processor/status');
    for (let attempt = 0; attempt < 20 && JSON.stringify(status.whole.tasks) !== JSON.stringify(taskList(status.parts)); attempt++) {
      status = await ask('/processor/status');
    }
    const tasks = taskList(status.parts);
    expect(tasks.length).toBeGreaterThan(0);
    expect(status.whole.tasks).toEqual(tasks);
    expect(new Set(tasks).size).toBe(tasks.length);
    const filters = await ask('/processor/filters');
    expect(filters.whole.passed).toBe(filters.parts.reduce((total, part) => total + (part.passed as number), 0));
    expect(filters.whole.passed).toBe(users.length * perUser);
  }, 60_000);

  test('interactive queries find every key, whichever thread runs its task', async () => {
    await processed(pipeline, users.length * perUser);
    for (const user of users) {
      const ask = () => call(pipeline.adminAddress!, `/processor/aggregation?aggregator=user_hourly_attempts&key=user:${user}`, { headers: auth });
      let answer = await ask();
      // 503 + Retry-After while a task moves between threads (Kafka Streams' InvalidStateStoreException): retried.
      while (answer.status === 503) answer = await new Promise((resolve) => setTimeout(resolve, Number(answer.headers['retry-after'] ?? 1) * 100)).then(ask);
      expect(answer.status).toBe(200);
      const body = answer.body as { data: Array<{ value: { attempts?: number; count?: number } | number }> };
      expect(body.data.length).toBeGreaterThan(0);
    }
    const unknown = await call(pipeline.adminAddress!, '/processor/aggregation?aggregator=user_hourly_attempts&key=user:nobody', { headers: auth });
    expect(unknown.status).toBe(404);
  }, 60_000);

  test('admin routes are the stream threads own: rule changes reach every thread, errors keep their status', async () => {
    const rules = [{ id: 'drop-probe', when: { field: 'payload.event_name', op: 'eq', value: 'probe' }, action: { type: 'block' } }];
    const put = await call(pipeline.adminAddress!, '/processor/filters', { method: 'PUT', body: rules, headers: auth });
    expect(put.status).toBe(200);
    // Asked several times: with two threads, reads go to one of them; each must have the rule.
    for (let i = 0; i < 3; i++) {
      const filters = await call(pipeline.adminAddress!, '/processor/filters', { headers: auth });
      expect(JSON.stringify(filters.body)).toContain('drop-probe');
    }
    const bad = await call(pipeline.adminAddress!, '/processor/filters', { method: 'PUT', body: [{ id: 'bad' }], headers: auth });
    expect(bad.status).toBe(400);
    const topology = await call(pipeline.adminAddress!, '/topology', { headers: auth });
    expect(topology.status).toBe(200);
    expect(topology.text).toContain('Sub-topology');
    const unauthorised = await call(pipeline.adminAddress!, '/processor/filters');
    expect(unauthorised.status).toBe(401);
  });

  test('readiness and seed 004 analytics are answered from the threads that hold them', async () => {
    const ready = await call(pipeline.address, '/ready');
    expect(ready.status).toBe(200);
    await until(async () => ((await call(pipeline.address, '/metrics?event_name=attempt')).body as { total_events?: number }).total_events === users.length * perUser, 'seed 004 analytics');
  }, 60_000);
});

describe('a pipeline thread that dies', () => {
  test('fails the process (RunningService.failed names the thread); stop() still completes', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-threads-die-'));
    const pipeline = await startService({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', ADMIN_PORT: 'off', CLICKHOUSE_HTTP_PORT: 'off', LOG_LEVEL: 'silent', ROLES: 'ingress,topology' }, pino({ level: 'silent' }));
    try {
      await pipeline.started;
      let settled = false;
      void pipeline.failed.catch(() => (settled = true));
      expect(settled).toBe(false);
      // A real thread ends abruptly, as a native crash or an uncaught error in it would end it.
      await (pipeline.threads!.streamWorkers[0] as unknown as { worker: import('node:worker_threads').Worker }).worker.terminate();
      await expect(pipeline.failed).rejects.toThrow(/stream-1 exited/);
    } finally {
      await pipeline.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

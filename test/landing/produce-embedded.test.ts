import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../support/temp-dir.js';
import { LandingChild } from './landing-child.js';

/**
 * Issue 14, done-when 2: `streamline produce <file.ndjson>` in embedded mode, through the running
 * service's HTTP ingress (the service holds the embedded log). Two backfill files, the service
 * SIGKILLed between them; events with ids (seed 004, and every seed 000 type) appear in both
 * files. Each distinct valid event is counted once (the seed 000 tables, events_raw, GET
 * /metrics?event_name=...); invalid and garbage lines are reported with their line number and
 * reason, as the HTTP routes answer them (NDJSON lines are JSON: Protobuf framings and the
 * landing DLQ belong to direct producers, landing-kafka-e2e.test.ts).
 */
const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

function produce(file: string, url: string, dataDir: string): Promise<{ stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  delete env.KAFKA_BROKERS;
  delete env.KAFKA_BOOTSTRAP_SERVERS;
  return run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bin/streamline.ts'), 'produce', file, '--url', url, '--batch', '40'], { env, cwd: ROOT });
}

describe('streamline produce in embedded mode', () => {
  let dir: string;
  let child: LandingChild | undefined;

  beforeAll(() => {
    dir = tempDir('landing-produce');
  });

  afterAll(async () => {
    await child?.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('two backfill files around a SIGKILL: each distinct event counted once, refused lines named', async () => {
    const now = Date.now();
    const user = (i: number) => `u${i % 9}`;
    const lines = (from: number, to: number) => {
      const out: string[] = [];
      for (let i = from; i < to; i++) {
        out.push(JSON.stringify({ event_name: 'backfill_bare', user_id: user(i), timestamp: now - 30_000 + i, channel: 'web' }));
        // Ids 0..29 appear in both files: a backfill re-run after a crash.
        out.push(JSON.stringify({ event_id: `bf-${i % 30}`, event_name: 'backfill_id', user_id: user(i % 30), timestamp: now - 30_000 + (i % 30), channel: 'api' }));
        out.push(JSON.stringify({ user_id: user(i % 30), item_id: 'item-1', client_attempt_id: `bf-att-${i % 30}`, correct: true, time_taken_ms: 3000 }));
        const start = now - 600_000 + (i % 30) * 1000;
        out.push(JSON.stringify({ session_id: `bf-sess-${i % 30}`, user_id: user(i % 30), start_time: new Date(start).toISOString(), end_time: new Date(start + 300_000).toISOString(), items_attempted: 4, correct_count: 2 }));
        out.push(JSON.stringify({ placement_id: `bf-place-${i % 30}`, user_id: user(i % 30), items_administered: 12, overall_accuracy: 0.75, was_completed: true }));
        out.push(JSON.stringify({ learner_id: user(i), tenant_id: 't', event_type: 'interaction', timestamp: new Date(now - 20_000 + i).toISOString(), source_service: 'web' }));
      }
      return out;
    };
    const first = [...lines(0, 30), JSON.stringify({ event_name: 'backfill_bad', user_id: 'u1', channel: 'web' }), 'not json at all'];
    const second = [...lines(30, 60), JSON.stringify({ learner_id: 'u1', tenant_id: 't', event_type: 'interaction', timestamp: 'later', source_service: 'web' })];
    fs.writeFileSync(path.join(dir, 'first.ndjson'), first.join('\n') + '\n');
    fs.writeFileSync(path.join(dir, 'second.ndjson'), second.join('\n') + '\n');
    const env = { DATA_DIR: path.join(dir, 'data'), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', COMMIT_INTERVAL_MS: '100', SINK_BATCH_LINGER: '200ms', CLICKHOUSE_EVENTS_TTL_DAYS: '0' };

    child = await LandingChild.start(env);
    await child.started;
    const one = await produce(path.join(dir, 'first.ndjson'), child.address, env.DATA_DIR);
    expect(one.stdout).toContain(`line 181: timestamp is required`);
    expect(one.stdout).toContain('line 182: not a JSON object');
    expect(one.stdout).toContain('180 of 182 events accepted by the service; 2 refused');
    const rawCount = 'SELECT count() AS n FROM events_db.events_raw';
    for (let n = 0; n === 0; n = await child.count(rawCount)) await new Promise((resolve) => setTimeout(resolve, 100));
    await child.kill();

    child = await LandingChild.start(env);
    await child.started;
    const two = await produce(path.join(dir, 'second.ndjson'), child.address, env.DATA_DIR);
    expect(two.stdout).toContain('line 181: timestamp must be a valid date-time');
    expect(two.stdout).toContain('180 of 181 events accepted by the service; 1 refused');

    // 60 bare product events, 30 distinct ids, 30 distinct attempts, sessions and placements, 60 interactions.
    const expected = {
      [rawCount]: 60 + 30 + 30 + 30 + 30 + 60,
      'SELECT uniqExact(event_id) AS n FROM events_db.events_raw': 240,
      "SELECT count() AS n FROM events_db.events_raw WHERE event_name = 'backfill_bare'": 60,
      "SELECT count() AS n FROM events_db.events_raw WHERE event_name = 'backfill_id'": 30,
      'SELECT count() AS n FROM events_db.attempts': 30,
      'SELECT count() AS n FROM events_db.sessions': 30,
      'SELECT count() AS n FROM events_db.placements': 30,
      "SELECT count() AS n FROM events_db.events_raw WHERE event_type = 'interaction'": 60,
    };
    expect(await child.waitForCounts(expected, 120_000)).toEqual(expected);
    const total = async (name: string) => ((await (await fetch(`${child!.address}/metrics?event_name=${name}`)).json()) as { total_events: number }).total_events;
    expect(await total('backfill_bare')).toBe(60);
    expect(await total('backfill_id')).toBe(30);
    await child.stop();
    child = undefined;
  }, 300_000);
});

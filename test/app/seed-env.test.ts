import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startService, type RunningService } from '../../app/Service.js';
import { SEED_ENV_TABLE, seedEnvWarning, translateSeedEnv } from '../../app/SeedEnv.js';
import { readMaxPollRecords } from '../../app/StreamConfig.js';
import { readIngressConfig } from '../../ingress/IngressConfig.js';
import { call } from './support/http-client.js';

/**
 * Issue 20 part 3: every seed env var is honoured with the seed's meaning, or named in one
 * warning line at start with what to use instead; docs/CONFIG.md's table says which. A test per
 * group, each on what the table says the variable changes.
 */
async function start(env: Record<string, string>): Promise<{ pipeline: RunningService; dataDir: string; lines: Array<Record<string, unknown>> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-seed-env-'));
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const pipeline = await startService({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', ROLES: 'ingress,topology', LOG_LEVEL: 'warn', ADMIN_PORT: '0', ...env }, pino({ level: 'warn' }, sink));
  return { pipeline, dataDir, lines };
}

describe('seed env vars', () => {
  const started: Array<{ pipeline: RunningService; dataDir: string }> = [];
  afterAll(async () => {
    for (const { pipeline, dataDir } of started) {
      await pipeline.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('Redis group: REDIS_ADDRESS + REDIS_PASSWORD + REDIS_DEDUPLICATION_DB become the ingress Redis; idempotency keys land in that database', async () => {
    const url = new URL(process.env.TEST_REDIS_URL!);
    const run = await start({ REDIS_ADDRESS: `${url.hostname}:${url.port}`, REDIS_DEDUPLICATION_DB: '3', INGRESS_REDIS_PREFIX: 'seedenv:' });
    started.push(run);
    const db3 = new Redis(`redis://${url.host}/3`);
    const db0 = new Redis(`redis://${url.host}/0`);
    try {
      const answer = await call(run.pipeline.address, '/api/v1/events/attempt', { body: { user_id: 'u-redis', item_id: 'i1', client_attempt_id: 'redis-attempt-1', correct: true } });
      expect(answer.status).toBeLessThan(300);
      expect((await db3.keys('seedenv:*')).length).toBeGreaterThan(0);
      expect(await db0.keys('seedenv:*')).toEqual([]);
    } finally {
      await db3.flushdb();
      db3.disconnect();
      db0.disconnect();
    }
    expect(translateSeedEnv({ REDIS_ADDRESS: 'cache:6380', REDIS_PASSWORD: 'p@ss', REDIS_DEDUPLICATION_DB: '3' }).env.REDIS_URL).toBe('redis://:p%40ss@cache:6380/3');
    // Ours wins when both are set.
    expect(translateSeedEnv({ REDIS_ADDRESS: 'cache:6380', REDIS_URL: 'redis://other:6379' }).env.REDIS_URL).toBe('redis://other:6379');
  }, 60_000);

  test("server group: SERVER_READ/WRITE/IDLE_TIMEOUT (Go durations) set the listener's timeouts; SERVER_PORT sets the port", async () => {
    const run = await start({ SERVER_READ_TIMEOUT: '7s', SERVER_WRITE_TIMEOUT: '9s', SERVER_IDLE_TIMEOUT: '3500ms' });
    started.push(run);
    const server = run.pipeline.http.server;
    expect(server.requestTimeout).toBe(7000);
    expect(server.timeout).toBe(9000);
    expect(server.keepAliveTimeout).toBe(3500);
    expect(readIngressConfig({ SERVER_PORT: '9099' }).port).toBe(9099);
    expect(readIngressConfig({ SERVER_PORT: '9099', PORT: '8088' }).port).toBe(8088);
  }, 60_000);

  test('event processor group: ENABLED=false runs no topology, BUFFER_SIZE sets records per poll, WORKERS sets STREAM_THREADS, the unsupported ones in one warning line', async () => {
    const run = await start({
      EVENT_PROCESSOR_ENABLED: 'false',
      EVENT_PROCESSOR_WORKERS: '4',
      EVENT_PROCESSOR_BUFFER_SIZE: '1000',
      GO_ENV: 'production',
      REDIS_POOL_SIZE: '10',
      REDIS_ENRICHMENT_DB: '1',
      REDIS_AGGREGATION_DB: '2',
      KAFKA_MAX_IN_FLIGHT: '5',
      KAFKA_PRODUCER_BATCH_SIZE: '100',
      KAFKA_PRODUCER_BATCH_TIMEOUT: '10ms',
    });
    started.push(run);
    expect(run.pipeline.config.roles).toEqual(['ingress']);
    expect(run.pipeline.streams).toBeUndefined();
    expect(readMaxPollRecords(translateSeedEnv({ EVENT_PROCESSOR_BUFFER_SIZE: '1000' }).env)).toBe(1000);
    expect(readMaxPollRecords(translateSeedEnv({ EVENT_PROCESSOR_BUFFER_SIZE: '1000', MAX_POLL_RECORDS: '200' }).env)).toBe(200);
    const warnings = run.lines.filter((line) => String(line.msg).startsWith('seed settings with no effect here'));
    expect(warnings).toHaveLength(1);
    expect(translateSeedEnv({ EVENT_PROCESSOR_WORKERS: '4' }).env.STREAM_THREADS).toBe('4');
    expect(translateSeedEnv({ EVENT_PROCESSOR_WORKERS: '4', STREAM_THREADS: '2' }).env.STREAM_THREADS).toBe('2');
    for (const name of ['GO_ENV', 'REDIS_POOL_SIZE', 'REDIS_ENRICHMENT_DB', 'REDIS_AGGREGATION_DB', 'KAFKA_MAX_IN_FLIGHT', 'KAFKA_PRODUCER_BATCH_SIZE', 'KAFKA_PRODUCER_BATCH_TIMEOUT']) {
      expect(warnings[0]!.msg).toContain(`${name} -> `);
    }
    expect(warnings[0]!.msg).toContain('GO_ENV -> LOG_LEVEL');
    expect(warnings[0]!.msg).not.toContain('EVENT_PROCESSOR_BUFFER_SIZE');
    expect(warnings[0]!.msg).not.toContain('EVENT_PROCESSOR_WORKERS');
  }, 60_000);

  test('Kafka group: KAFKA_MAX_IN_FLIGHT=1 is what the producer does (no warning); nothing set, no warning at all', () => {
    expect(translateSeedEnv({ KAFKA_MAX_IN_FLIGHT: '1', EVENT_PROCESSOR_WORKERS: '1', EVENT_PROCESSOR_ENABLED: 'true' }).ignored).toEqual([]);
    expect(seedEnvWarning(translateSeedEnv({}).ignored)).toBeUndefined();
    expect(translateSeedEnv({ KAFKA_MAX_IN_FLIGHT: '5' }).ignored.map((i) => i.name)).toEqual(['KAFKA_MAX_IN_FLIGHT']);
  });

  test('docs/CONFIG.md has a row for every seed variable of the table', () => {
    const doc = fs.readFileSync(path.resolve('docs/CONFIG.md'), 'utf8');
    for (const { seed } of SEED_ENV_TABLE) expect(doc).toMatch(new RegExp(`^\\| \`${seed}\` \\|`, 'm'));
  });
});

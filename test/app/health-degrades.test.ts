import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pino from 'pino';
import { Registry } from 'prom-client';
import { startService } from '../../app/Service.js';
import { buildIngress } from '../../ingress/BuildIngress.js';
import { readIngressConfig } from '../../ingress/IngressConfig.js';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import type { Log } from '../../log/Log.js';

/**
 * Issue 21 item 5: GET /health stays 200 (liveness) but is "degraded" while a configured
 * dependency fails (Redis, ClickHouse) or a component is down (the topology waiting for Kafka);
 * GET /ready says what the start waits for.
 */
describe('/health and /ready with a dependency down', () => {
  let dir: string;
  let log: Log;
  let app: FastifyInstance | undefined;
  let redis: Redis | undefined;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-health-'));
    log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
  });

  afterAll(async () => {
    await app?.close();
    redis?.disconnect();
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the process with REDIS_URL at a closed port: one warning from the app Redis client, /health degraded naming Redis', async () => {
    const closedPort = await freePort();
    const lines: Array<{ level: number; msg: string; component?: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
        done();
      },
    });
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-redis-wiring-'));
    const pipeline = await startService(
      { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', ROLES: 'ingress', REDIS_URL: `redis://:secret@127.0.0.1:${closedPort}` },
      pino({ level: 'info' }, sink),
    );
    try {
      // Several reconnect attempts failed (ioredis retries within ~50-200 ms each).
      const errorsCounted = async () => (await pipeline.registry.getSingleMetric('streamline_redis_connection_errors_total')!.get()).values[0]?.value ?? 0;
      const deadline = Date.now() + 20_000;
      while ((await errorsCounted()) < 5) {
        if (Date.now() > deadline) throw new Error('Redis connection errors were not counted');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const redisWarnings = lines.filter((line) => line.level === 40 && /redis/i.test(line.msg));
      expect(redisWarnings).toHaveLength(1);
      expect(redisWarnings[0]).toMatchObject({ component: 'redis', url: `redis://:***@127.0.0.1:${closedPort}` });
      // The ingress no longer opens (and logs for) a client of its own.
      expect(lines.filter((line) => line.msg === 'ingress redis error')).toEqual([]);

      const health = await fetch(`${pipeline.address}/health`);
      expect(health.status).toBe(200);
      const body = (await health.json()) as { status: string; dependencies: Record<string, string> };
      expect(body.status).toBe('degraded');
      expect(body.dependencies.redis).toBe('unhealthy');
    } finally {
      await pipeline.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  test('Redis unreachable, ClickHouse failing, topology waiting: degraded, each named; /ready lists waiting_for', async () => {
    const closedPort = await freePort();
    redis = new Redis(`redis://127.0.0.1:${closedPort}`, { maxRetriesPerRequest: 0, lazyConnect: false });
    redis.on('error', () => undefined);
    const waiting = 'Kafka at 127.0.0.1:9 (pipeline topics): no Kafka broker answers at 127.0.0.1:9; the ingress accepts events and spools them to disk meanwhile';
    app = await buildIngress({
      log,
      config: readIngressConfig({ BUFFER_DIR: path.join(dir, 'spool'), PORT: '0', HOST: '127.0.0.1' }),
      registry: new Registry(),
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      redis,
      readinessChecks: [
        { name: 'topology', check: async () => false, waitingFor: () => waiting },
        { name: 'clickhouse', check: async () => false, waitingFor: () => waiting },
      ],
    });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });

    const health = await fetch(`${address}/health`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { status: string; dependencies: Record<string, string>; components: Record<string, { status: string; waiting_for?: string }> };
    expect(body.status).toBe('degraded');
    expect(body.dependencies).toEqual({ log: 'healthy', redis: 'unhealthy', clickhouse: 'unhealthy' });
    expect(body.components.topology).toEqual({ status: 'down', waiting_for: waiting });

    const ready = await fetch(`${address}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not_ready', checks: { log: 'ok', redis: 'failed', topology: 'failed', clickhouse: 'failed' }, waiting_for: [waiting] });
  }, 30_000);
});

/** A port nothing listens on (bound, then released). */
function freePort(): Promise<number> {
  return new Promise<number>((resolve) => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

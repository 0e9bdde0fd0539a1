import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Log } from '../log/Log.js';
import { CircuitBreaker } from './CircuitBreaker.js';
import { DiskSpool } from './DiskSpool.js';
import { type IdempotencyStore, MemoryIdempotencyStore, RedisIdempotencyStore } from './IdempotencyStore.js';
import { IngestCore } from './IngestCore.js';
import { IngestKeyring, type IngestKeysConfig } from './IngestKeys.js';
import { type IngressConfig, readIngressConfig } from './IngressConfig.js';
import { IngressMetrics } from './IngressMetrics.js';
import type { IngressRuntime } from './IngressRuntime.js';
import { InFlightBudget } from './InFlightBudget.js';
import { IntakeAdmission } from './IntakeAdmission.js';
import { LandingWriter } from './LandingWriter.js';
import { MemoryRateLimiter, type RateLimiter, RedisRateLimiter } from './RateLimiter.js';
import { collectorRoutes } from './routes/collector-routes.js';
import { healthRoutes, type ReadinessCheck } from './routes/health-routes.js';
import type { IngestDeps } from './routes/ingest-scope.js';
import { type AnalyticsQuery, metricsRoutes } from './routes/metrics-routes.js';
import { productRoutes } from './routes/product-routes.js';
import { seed000Routes } from './routes/seed000-routes.js';
import { SchemaCatalog, defaultSchemaCatalog } from './SchemaCatalog.js';

declare module 'fastify' {
  interface FastifyInstance {
    ingress: IngressRuntime;
  }
}

export interface IngressOptions {
  log: Log;
  /** Defaults to readIngressConfig(process.env). */
  config?: IngressConfig;
  registry: Registry;
  logger: Logger;
  /** Shared state (rate limits, idempotency keys) in Redis; otherwise one is opened when config.redisUrl is set, else memory. */
  redis?: Redis;
  /** Seed 004's GET /metrics?event_name=... (the analytics store); absent → 503 naming it. */
  analytics?: AnalyticsQuery;
  /** Extra checks for GET /ready (ClickHouse, the topology, ...); the log, spool and Redis are checked already. */
  readinessChecks?: ReadinessCheck[];
  /** Schema directories; default ingress/schemas. Add a directory to add event types. */
  schemaDirs?: string[];
  /** How long shutdown may spend draining the spool to a healthy log before leaving the rest on disk. */
  shutdownDrainMs?: number;
  /** Source write keys (readIngestKeys(env)); absent → ingestion routes are open. */
  ingestKeys?: IngestKeysConfig;
  /** Certificate and key (PEM) to serve HTTPS instead of HTTP (buildIngress only). */
  tls?: { cert: Buffer; key: Buffer };
}

/**
 * Adds the ingress (routes, health, metrics, the write path) to an existing fastify instance.
 * Call before app.ready()/listen(); closing the app drains in-flight requests, stops the
 * spool drainer and closes the spool.
 */
export async function registerIngress(app: FastifyInstance, options: IngressOptions): Promise<IngressRuntime> {
  const config = options.config ?? readIngressConfig(process.env);
  const { log, registry, logger } = options;
  // The default schemas: the process's one catalog, shared with the topology's parse step (one
  // source of truth, compiled once per thread).
  const catalog = options.schemaDirs ? new SchemaCatalog(options.schemaDirs) : defaultSchemaCatalog();

  let ownedRedis: Redis | undefined;
  let redis = options.redis;
  if (!redis && config.redisUrl) {
    // Embedded use without the app (which passes its own client, ingress/IngressRedis.ts). Loaded
    // only here: importing ioredis costs ~0.2 s of start-up CPU that a Redis-less start need not pay.
    const { Redis } = await import('ioredis');
    // rediss:// and its REDIS_TLS_* files, as the app's client (ingress/IngressRedis.ts).
    const { readRedisTls } = await import('./IngressRedis.js');
    const tls = readRedisTls(process.env, config.redisUrl);
    ownedRedis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: false, ...(tls ? { tls } : {}) });
    ownedRedis.on('error', (error) => logger.warn({ err: error }, 'ingress redis error'));
    redis = ownedRedis;
  }

  const spool = await DiskSpool.open({ dir: config.spool.dir, maxBytes: config.spool.maxBytes, segmentBytes: config.spool.segmentBytes, logger });
  const breaker = new CircuitBreaker({
    ...config.breaker,
    onStateChange: (from, to) => logger.warn({ from, to }, 'ingress circuit breaker changed state'),
  });
  const budget = new InFlightBudget(config.maxInFlightBytes);
  const metrics = new IngressMetrics(registry, {
    spoolBytes: () => spool.bytes,
    spoolRecords: () => spool.records,
    inFlightBytes: () => budget.bytes,
    breakerOpen: () => ({ closed: 0, half_open: 0.5, open: 1 })[breaker.state],
  });
  const writer = new LandingWriter({
    log,
    spool,
    breaker,
    logger,
    produceTimeoutMs: config.produceTimeoutMs,
    dlqTopic: config.dlqTopic,
    prepareTopics: async () => {
      await log.ensureTopic(config.landingTopic, { partitions: config.landingPartitions });
      await log.ensureTopic(config.dlqTopic, { partitions: 1 });
    },
    onLandedLate: (records, by) => metrics.landedLate.inc({ by }, records),
    onSpooled: (records) => {
      metrics.spooled.inc(records);
      metrics.totals.spooled += records;
    },
    onDrained: (records) => {
      metrics.drained.inc(records);
      metrics.totals.drained += records;
    },
    onProduceError: () => {
      metrics.produceErrors.inc();
      metrics.totals.produceErrors++;
    },
  });
  const idempotency: IdempotencyStore = redis
    ? new RedisIdempotencyStore(redis, config.redisKeyPrefix + 'id:')
    : new MemoryIdempotencyStore(config.idempotency.maxKeys);
  const limiter: RateLimiter = redis
    ? new RedisRateLimiter(redis, config.redisKeyPrefix + 'rl:')
    : new MemoryRateLimiter(config.rateLimit.cleanupIntervalMs);
  const core = new IngestCore({ config, writer, idempotency, limiter, metrics, logger });
  // Before fastify: the ingest routes' requests are admitted or refused before anything reads them.
  const admission = new IntakeAdmission({
    maxRequestsInFlight: config.maxRequestsInFlight,
    maxLoopDelayMs: config.maxLoopDelayMs,
    retryAfterSeconds: config.retryAfterSeconds,
    metrics,
    registry,
  });
  admission.install(app.server);
  const runtime: IngressRuntime = { config, log, registry, catalog, core, writer, spool, breaker, metrics, budget, admission, idempotency, limiter, redis };

  app.decorate('ingress', runtime);
  // fastify keeps keep-alive sockets open for 72 s; a response finished after close() began
  // must close its connection, or shutdown waits for every idle client.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    admission.close();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  app.decorateRequest('ingestKeyName', null);
  const keyHook = options.ingestKeys ? new IngestKeyring(options.ingestKeys).hook(limiter, metrics) : undefined;
  const deps: IngestDeps = { core, catalog, config, metrics, budget, admission, keyHook };
  await app.register(seed000Routes, deps);
  await app.register(collectorRoutes, deps);
  await app.register(productRoutes, deps);
  await registerOperatorReads(app, runtime, options);

  app.addHook('onClose', async () => {
    // fastify has stopped accepting and finished in-flight requests by now.
    await writer.stop(options.shutdownDrainMs ?? 2000);
    await spool.close();
    await limiter.close();
    await idempotency.close();
    if (ownedRedis) await ownedRedis.quit().catch(() => undefined);
    logger.info({ spooledRecords: spool.records }, 'ingress stopped');
  });
  return runtime;
}

/**
 * Health (/health, /ready, /api/v1/health) and the metrics reads (Prometheus, the seeds' JSON
 * counters, seed 004's analytics) of a runtime: on the public listener, and again on the admin
 * listener for operators and the dashboard.
 */
export async function registerOperatorReads(
  app: FastifyInstance,
  runtime: IngressRuntime,
  options: Pick<IngressOptions, 'analytics' | 'readinessChecks'>,
): Promise<void> {
  await app.register(healthRoutes, { runtime, readinessChecks: options.readinessChecks ?? [] });
  await app.register(metricsRoutes, { runtime, analytics: options.analytics });
}

/**
 * A fastify instance with the ingress registered, ready for other plugins (topology query API,
 * seed 002 routes, ...) to add their routes before listen().
 */
export async function buildIngress(options: IngressOptions): Promise<FastifyInstance> {
  const config = options.config ?? readIngressConfig(process.env);
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: config.maxBodyBytes,
    trustProxy: config.trustProxy,
    // Per-request log lines cost more than the ingest itself at these rates; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    // Seeds 000/004's SERVER_READ/WRITE/IDLE_TIMEOUT (IngressConfig.ts).
    requestTimeout: config.serverTimeouts.requestMs,
    connectionTimeout: config.serverTimeouts.socketMs,
    keepAliveTimeout: config.serverTimeouts.keepAliveMs,
    ...(options.tls ? { https: options.tls } : {}),
  }) as unknown as FastifyInstance;
  await registerIngress(app, { ...options, config });
  return app;
}

import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { readIngressConfig, type ReadinessCheck } from '../ingress/index.js';
import { readIngestKeys } from '../ingress/IngestKeys.js';
import type { Log } from '../log/Log.js';
import { createQueryLayer, readQueryListenerConfig } from '../query/index.js';
import { readPipelineConfig, type DefaultPipeline } from '../processors/index.js';
import type { AnalyticsRuntime } from '../sink/index.js';
import type { StreamsApp } from '../topology/index.js';
import { readAdminConfig } from './admin-config.js';
import { readAppConfig, withDataDirDefaults, type AppConfig } from './app-config.js';
import type { Env } from './env.js';
import { startListeners } from './Listeners.js';
import { applySeedEnv } from './SeedEnv.js';
import { openLog } from './open-log.js';
import { StartSequence } from './StartSequence.js';
import { applyMemoryPlan, readMemoryPlan } from './MemoryBudget.js';
import { MemoryPressure } from './MemoryPressure.js';

export interface RunningPipeline {
  config: AppConfig;
  log: Log;
  http: FastifyInstance;
  streams: StreamsApp | undefined;
  pipeline: DefaultPipeline | undefined;
  readonly analytics: AnalyticsRuntime | undefined;
  registry: Registry;
  /** The public listener (ingestion, health, the seeds' public reads), e.g. http://127.0.0.1:8080. */
  address: string;
  /** The separate admin listener (app/Listeners.ts); undefined when admin routes share the public one or are off. */
  admin: FastifyInstance | undefined;
  /** Where the admin routes answer, e.g. http://127.0.0.1:8081 (the public address with ADMIN_PORT=public; undefined with ADMIN_PORT=off). */
  adminAddress: string | undefined;
  /** The read-only ClickHouse HTTP interface over the embedded store (query/), e.g. http://127.0.0.1:8123; undefined when off. */
  queryAddress: string | undefined;
  /** Resolves once topics, topology and sink run (later than listen when the broker was down); rejects with a fatal start error. */
  started: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Composes the process from its roles: the log; the topology (the default pipeline: parse,
 * dedupe, enrich, filter, route, aggregate); the ClickHouse sink and the seed 004 analytics; the
 * HTTP listeners (app/Listeners.ts). Stops in the reverse order: HTTP first so nothing new is
 * accepted, then the topology (its last commit), the sink, the log.
 */
export async function startPipeline(givenEnv: Env, logger: Logger): Promise<RunningPipeline> {
  // The seeds' variables (REDIS_ADDRESS, EVENT_PROCESSOR_*, ...) in ours; one warning line for those with no effect.
  const rawEnv = applySeedEnv(givenEnv, logger);
  const config = readAppConfig(rawEnv);
  // One memory budget (MEMORY_LIMIT_MB): store and log RocksDB sizes are set before anything
  // opens; the ingress's in-flight bytes default to its share unless set.
  const memory = readMemoryPlan(rawEnv);
  applyMemoryPlan(memory);
  const env = withDataDirDefaults({ INGRESS_MAX_IN_FLIGHT_BYTES: String(memory.ingressInFlightBytes), ...rawEnv }, config);
  const ingressConfig = readIngressConfig(env);
  // Before anything opens: a refused admin door or a bad key file stops the start here.
  const adminConfig = readAdminConfig(env, ingressConfig);
  const ingestKeys = readIngestKeys(env);
  // Issue 15: the ClickHouse HTTP interface over chDB (query/); refused before anything opens when unsafe.
  const queryListenerConfig = readQueryListenerConfig(env, config.roles);
  // One DLQ for the ingress, the runtime and the filters.
  const pipelineConfig = { ...readPipelineConfig(env), landingTopic: ingressConfig.landingTopic, dlqTopic: ingressConfig.dlqTopic };
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // At a budget the operator set, intake answers 503 + Retry-After instead of memory growing
  // (app/MemoryPressure.ts). Unset, the caches are sized for the default plan but nothing is
  // refused: the default is a sizing guess, not a measured limit of the box.
  const memoryPressure = rawEnv.MEMORY_LIMIT_MB
    ? new MemoryPressure({ ...memory.pressure, registry, retryAfterSeconds: ingressConfig.retryAfterSeconds }).start()
    : undefined;

  const log = await openLog(config, env, logger, registry);
  const stopping: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stopping.reverse()) await stop().catch((error: unknown) => logger.error({ err: error }, 'stop failed'));
  };
  stopping.push(() => log.close());
  stopping.push(async () => memoryPressure?.stop());
  try {
    // Topics, topology and sink: on Kafka with the broker down this returns early and goes on in
    // the background while the ingress spools (app/StartSequence.ts).
    const sequence = new StartSequence({ config, env, log, logger, registry, pipelineConfig, landingPartitions: ingressConfig.landingPartitions });
    stopping.push(() => sequence.stop());
    await sequence.start();
    const streams = sequence.streams;
    const pipeline = sequence.pipeline;

    const readinessChecks: ReadinessCheck[] = sequence.readinessChecks();
    // Issue 15: the read-only query layer over the embedded store (query/): closed after the
    // listeners, before the store.
    const queryLayer = queryListenerConfig ? createQueryLayer({ config: queryListenerConfig, store: () => sequence.analytics?.store, registry, logger }) : undefined;
    if (queryLayer) stopping.push(() => queryLayer.close());
    // Opened here, not by the ingress, so its errors are counted and logged at a human rate; closed
    // after the listeners (stops run in reverse). ioredis is loaded only when a URL is set.
    const redis = ingressConfig.redisUrl
      ? (await import('./redis-client.js')).openIngressRedis(ingressConfig.redisUrl, logger.child({ component: 'redis' }), registry)
      : undefined;
    // QUIT on a client that never connected would wait in its offline queue: just disconnect it.
    if (redis) stopping.push(async () => (redis.status === 'ready' ? void (await redis.quit().catch(() => redis.disconnect())) : redis.disconnect()));
    const { http, admin, address, adminAddress } = await startListeners({
      ingressConfig,
      adminConfig,
      ingestKeys,
      log,
      registry,
      logger,
      analytics: sequence.analyticsQuery(),
      readinessChecks,
      redis,
      memoryPressure,
      streams,
      pipeline,
      adminPlugins: queryLayer ? [(scope) => queryLayer.registerDashboardRoute(scope)] : [],
      onClose: (close) => stopping.push(close),
    });
    // Issue 15: analysts' read-only door to the embedded store, its own listener.
    const queryAddress = await queryLayer?.listen();
    logger.info({ address, adminAddress, queryAddress, mode: config.logMode, dataDir: config.dataDir, roles: config.roles }, 'streamline listening');

    let stopped: Promise<void> | undefined;
    const stop = () =>
      (stopped ??= (async () => {
        await stopAll();
        logger.info('stopped');
      })());
    return {
      config,
      log,
      http,
      streams,
      pipeline,
      get analytics() {
        return sequence.analytics;
      },
      registry,
      address,
      admin,
      adminAddress,
      queryAddress,
      started: sequence.done,
      stop,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

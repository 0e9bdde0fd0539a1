import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { readIngressConfig, type AnalyticsQuery, type ReadinessCheck } from '../ingress/index.js';
import { readIngestKeys } from '../ingress/IngestKeys.js';
import type { Log } from '../log/Log.js';
// Threaded (the default), this thread runs the ingress only: what only the topology, the sink or
// the query layer use is imported by the single-threaded start below, not here (issue 21: idle RSS).
import { readQueryListenerConfig, type QueryListenerConfig } from '../query/QueryListenerConfig.js';
import type { DefaultPipeline } from '../processors/index.js';
import type { AnalyticsRuntime } from '../sink/index.js';
import type { QueryParams } from '../sink/AnalyticsStore.js';
import type { StreamsApp } from '../topology/index.js';
import { readAdminConfig } from './AdminConfig.js';
import { readAppConfig, withDataDirDefaults, type AppConfig } from './AppConfig.js';
import { heapGrowingPercentInEffect, readHeapGrowingPercent, readMemoryPlan, readTopicNames, type Env, type MemoryPlan, type TopicNames } from '../config/index.js';
import { startListeners } from './Listeners.js';
import { applySeedEnv } from './SeedEnv.js';
import { MemoryPressure } from './MemoryPressure.js';
import { readMaxTopologyLag, TopologyBackpressure } from './TopologyBackpressure.js';
import { registerThreadHeapGauges } from '../log/remote/ThreadHeapGauges.js';
import { readThreadConfig } from './threads/ThreadConfig.js';
import { ThreadedRuntime } from './threads/ThreadedRuntime.js';

export interface RunningService {
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
  /** The worker threads (issue 13); undefined with SINGLE_THREAD=true, where streams, pipeline and analytics are this thread's. */
  threads: ThreadedRuntime | undefined;
  /** Rejects when a pipeline thread dies or fails after the start: the process should end (app/main.ts). */
  failed: Promise<never>;
  /** Rows of a query on the analytics store (chDB or the ClickHouse server), in whichever thread the sink runs. */
  analyticsSql<T>(sql: string, params?: QueryParams): Promise<T[]>;
  /** Stops every part, in reverse order of their start; rejects, naming them, when any part's stop failed. */
  stop(): Promise<void>;
}

/**
 * Composes the process from its roles: the log; the topology (the default pipeline: parse,
 * dedupe, enrich, filter, route, aggregate); the ClickHouse sink and the seed 004 analytics; the
 * HTTP listeners (app/Listeners.ts). Stops in the reverse order: HTTP first so nothing new is
 * accepted, then the topology (its last commit), the sink, the log.
 */
export interface StartServiceOptions {
  /**
   * The service is the whole process (app/main.ts, `npm start`): the memory budget holds by default
   * (MEMORY_LIMIT_MB's default, off only with MEMORY_LIMIT_MB=0). Embedded in another process (a
   * test runner, a host application) RSS is the host's too, so only an explicit MEMORY_LIMIT_MB
   * turns the check on.
   */
  ownsProcess?: boolean;
}

export async function startService(givenEnv: Env, logger: Logger, options: StartServiceOptions = {}): Promise<RunningService> {
  // The seeds' variables (REDIS_ADDRESS, EVENT_PROCESSOR_*, ...) in ours; one warning line for those with no effect.
  const rawEnv = applySeedEnv(givenEnv, logger);
  const config = readAppConfig(rawEnv);
  // One memory budget (MEMORY_LIMIT_MB): store and log RocksDB sizes are set before anything
  // opens, by each thread that opens them; the ingress's in-flight bytes default to its share unless set.
  const memory = readMemoryPlan(rawEnv);
  const env = withDataDirDefaults({ INGRESS_MAX_IN_FLIGHT_BYTES: String(memory.ingressInFlightBytes), ...rawEnv }, config);
  // One landing topic and one DLQ for the ingress, the runtime and the filters.
  const topics = readTopicNames(env);
  const ingressConfig = readIngressConfig(env, topics);
  // Before anything opens: a refused admin door or a bad key file stops the start here.
  const adminConfig = readAdminConfig(env, ingressConfig);
  const ingestKeys = readIngestKeys(env);
  // Issue 15: the ClickHouse HTTP interface over chDB (query/); refused before anything opens when unsafe.
  const queryListenerConfig = readQueryListenerConfig(env, config.roles);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerThreadHeapGauges(registry, 'main');
  // At the budget intake answers 503 + Retry-After instead of memory growing (app/MemoryPressure.ts):
  // by default when the service is the process, as a set MEMORY_LIMIT_MB asks; never with MEMORY_LIMIT_MB=0.
  // Memory still resident once the topology has processed everything is retained, not growing:
  // it does not hold intake refused below the budget itself (the backlog is known once the log is open).
  // The accepted backlog counts too: processing it takes memory RSS does not show yet.
  let topologyBacklog: (() => number) | undefined;
  const memoryPressure =
    memory.enforced && (options.ownsProcess || rawEnv.MEMORY_LIMIT_MB)
      ? new MemoryPressure({
          ...memory.pressure,
          limitBytes: memory.limitBytes,
          backlog: () => topologyBacklog?.(),
          registry,
          retryAfterSeconds: ingressConfig.retryAfterSeconds,
        }).start()
    : undefined;

  const threads = readThreadConfig(env, config.defaultPartitions);
  const heapGrowingPercent = readHeapGrowingPercent(env);
  const heapGrowingInEffect = heapGrowingPercentInEffect();
  if (env.V8_HEAP_GROWING_PERCENT?.trim() && heapGrowingInEffect !== heapGrowingPercent) {
    logger.warn(
      `V8_HEAP_GROWING_PERCENT=${heapGrowingPercent} has no effect here: V8 reads --heap-growing-percent only from node's command line, which \`npm start\` (scripts/start.sh) gives it; start with npm start or pass the flag to node`,
    );
  }
  const stopping: Array<() => Promise<void>> = [];
  // Every part stops even when one before it failed (a store left open would keep chDB's connection);
  // the failures are the answer, so that a process whose stop failed does not exit 0.
  const stopAll = async (): Promise<unknown[]> => {
    const failures: unknown[] = [];
    for (const stop of stopping.reverse())
      await stop().catch((error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        failures.push(error);
      });
    return failures;
  };
  stopping.push(async () => memoryPressure?.stop());
  try {
    let roles: RoleParts;
    if (threads.singleThread) {
      roles = await startOnThisThread({ config, env, logger, registry, memory, topics, landingPartitions: ingressConfig.landingPartitions, queryListenerConfig }, stopping);
    } else {
      // Issue 13: this thread keeps the ingress; the log, the stream threads and the sink run in their own (app/threads/).
      const runtime = await ThreadedRuntime.start({
        config,
        env,
        threads,
        memory,
        landingPartitions: ingressConfig.landingPartitions,
        serveQueries: queryListenerConfig !== undefined,
        registry,
        logger,
      });
      stopping.push(() => runtime.stop());
      const forwarding = runtime.adminForwarding();
      roles = {
        log: runtime.log,
        readinessChecks: runtime.readinessChecks(),
        analytics: runtime.analyticsQuery(),
        adminPlugins: [(scope) => forwarding.register(scope)],
        describeTopology: () => forwarding.describeTopology(),
        started: runtime.done,
        failed: runtime.failed,
        threads: runtime,
        queryAddress: () => runtime.queryAddress,
      };
    }
    const { log } = roles;
    // Issue 13 part 3: past MAX_TOPOLOGY_LAG unprocessed events, intake answers 503 + Retry-After.
    const maxLag = readMaxTopologyLag(env);
    const backpressure =
      maxLag > 0 && config.roles.includes('topology') && config.roles.includes('ingress')
        ? new TopologyBackpressure({ log, groupId: config.applicationId, landingTopic: ingressConfig.landingTopic, maxLag, registry, retryAfterSeconds: ingressConfig.retryAfterSeconds }).start()
        : undefined;
    if (backpressure) {
      stopping.push(() => backpressure.stop());
      topologyBacklog = () => backpressure.backlog;
    }
    // Opened here, not by the ingress, so its errors are counted and logged at a human rate; closed
    // after the listeners (stops run in reverse). ioredis is loaded only when a URL is set.
    const redis = ingressConfig.redisUrl
      ? (await import('../ingress/IngressRedis.js')).openIngressRedis(ingressConfig.redisUrl, logger.child({ component: 'redis' }), registry, env)
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
      analytics: roles.analytics,
      readinessChecks: [...roles.readinessChecks, ...[backpressure?.readinessCheck(), memoryPressure?.readinessCheck()].filter((check) => check !== undefined)],
      redis,
      intakeGuards: [memoryPressure?.hook(), backpressure?.hook()].filter((guard) => guard !== undefined),
      streams: roles.streams,
      pipeline: roles.pipeline,
      adminPlugins: roles.adminPlugins,
      describeTopology: roles.describeTopology,
      onClose: (close) => stopping.push(close),
    });
    // Issue 15: analysts' read-only door to the embedded store, its own listener.
    const queryAddress = (await roles.listenQueries?.()) ?? roles.queryAddress?.();
    logger.info({ address, adminAddress, queryAddress, mode: config.logMode, dataDir: config.dataDir, roles: config.roles, threads: threads.singleThread ? 'single' : threads.streamThreads, heapGrowingPercent: heapGrowingInEffect ?? 'v8 default' }, 'streamline listening');

    let stopped: Promise<void> | undefined;
    const stop = () =>
      (stopped ??= (async () => {
        const failures = await stopAll();
        if (failures.length > 0) throw new AggregateError(failures, `the stop failed in ${failures.length} part(s): ${failures.map(describeFailure).join('; ')}`);
        logger.info('stopped');
      })());
    return {
      config,
      log,
      http,
      streams: roles.streams,
      pipeline: roles.pipeline,
      get analytics() {
        return roles.analyticsRuntime?.();
      },
      registry,
      address,
      admin,
      adminAddress,
      queryAddress,
      started: roles.started,
      threads: roles.threads,
      failed: roles.failed,
      analyticsSql: async <T>(sql: string, params?: QueryParams): Promise<T[]> => {
        if (roles.threads) return roles.threads.sql<T>(sql, params);
        const store = roles.analyticsRuntime?.()?.store;
        if (!store) throw new Error('the analytics store is not started (ROLES without sink, or the start is not done)');
        return store.query<T>(sql, params);
      },
      stop,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }

}

/** What the roles other than the ingress give the listeners, however they are spread over threads. */
interface RoleParts {
  log: Log;
  readinessChecks: ReadinessCheck[];
  analytics: AnalyticsQuery | undefined;
  adminPlugins: Array<(scope: FastifyInstance) => Promise<void>>;
  describeTopology?: () => Promise<string>;
  streams?: StreamsApp;
  pipeline?: DefaultPipeline;
  analyticsRuntime?: () => AnalyticsRuntime | undefined;
  started: Promise<void>;
  failed: Promise<never>;
  threads?: ThreadedRuntime;
  listenQueries?: () => Promise<string | undefined>;
  queryAddress?: () => string | undefined;
}

/**
 * SINGLE_THREAD=true: the log, the topology and the sink on this thread's event loop, as before
 * issue 13. Topics, topology and sink: on Kafka with the broker down the sequence returns early
 * and goes on in the background while the ingress spools (app/StartSequence.ts).
 */
async function startOnThisThread(
  options: {
    config: AppConfig;
    env: Env;
    logger: Logger;
    registry: Registry;
    memory: MemoryPlan;
    topics: TopicNames;
    landingPartitions: number;
    queryListenerConfig: QueryListenerConfig | undefined;
  },
  stopping: Array<() => Promise<void>>,
): Promise<RoleParts> {
  const { config, env, logger, registry, landingPartitions, queryListenerConfig } = options;
  const [{ readPipelineConfig }, { applyMemoryPlan }, { openLog }, { StartSequence }] = await Promise.all([
    import('../processors/index.js'),
    import('./MemoryBudget.js'),
    import('./OpenLog.js'),
    import('./StartSequence.js'),
  ]);
  const pipelineConfig = readPipelineConfig(env, options.topics);
  // Store and log RocksDB sizes, before anything opens (threaded, each thread applies its share).
  applyMemoryPlan(options.memory);
  const log = await openLog(config, env, logger, registry);
  stopping.push(() => log.close());
  const sequence = await StartSequence.create({ config, env, log, logger, registry, pipelineConfig, landingPartitions });
  stopping.push(() => sequence.stop());
  await sequence.start();
  // Issue 15: the read-only query layer over the embedded store (query/): closed after the
  // listeners, before the store.
  const queryLayer = queryListenerConfig
    ? (await import('../query/QueryLayer.js')).createQueryLayer({ config: queryListenerConfig, store: () => sequence.analytics?.store, registry, logger })
    : undefined;
  if (queryLayer) stopping.push(() => queryLayer.close());
  return {
    log,
    readinessChecks: sequence.readinessChecks(),
    analytics: sequence.analyticsQuery(),
    adminPlugins: queryLayer ? [(scope) => queryLayer.registerDashboardRoute(scope)] : [],
    streams: sequence.streams,
    pipeline: sequence.pipeline,
    analyticsRuntime: () => sequence.analytics,
    started: sequence.done,
    // Single-threaded, a failure after the start is the sequence's own (`started`).
    failed: new Promise<never>(() => undefined),
    listenQueries: queryLayer ? () => queryLayer.listen() : undefined,
  };
}

function describeFailure(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

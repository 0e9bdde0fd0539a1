import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { registerConsole } from '../console/index.js';
import { buildIngress, readIngressConfig, type ReadinessCheck } from '../ingress/index.js';
import type { Log } from '../log/Log.js';
import { buildDefaultPipeline, ensurePipelineTopics, processorRoutes, readPipelineConfig, type DefaultPipeline } from '../processors/index.js';
import { startAnalytics, type AnalyticsRuntime } from '../sink/index.js';
import { StreamsApp, StreamsBuilder } from '../topology/index.js';
import { readAppConfig, withDataDirDefaults, type AppConfig } from './app-config.js';
import type { Env } from './env.js';
import { openLog } from './open-log.js';

export interface RunningPipeline {
  config: AppConfig;
  log: Log;
  http: FastifyInstance;
  streams: StreamsApp | undefined;
  pipeline: DefaultPipeline | undefined;
  analytics: AnalyticsRuntime | undefined;
  registry: Registry;
  /** Where the HTTP server listens, e.g. http://127.0.0.1:8080. */
  address: string;
  stop(): Promise<void>;
}

/**
 * Composes the process from its roles: the log; the topology (the default pipeline: parse,
 * dedupe, enrich, filter, route, aggregate); the ClickHouse sink and the seed 004 analytics; the
 * HTTP server (ingress, query routes). Stops in the reverse order: HTTP first so nothing new is
 * accepted, then the topology (its last commit), the sink, the log.
 */
export async function startPipeline(rawEnv: Env, logger: Logger): Promise<RunningPipeline> {
  const config = readAppConfig(rawEnv);
  const env = withDataDirDefaults(rawEnv, config);
  const ingressConfig = readIngressConfig(env);
  // One DLQ for the ingress, the runtime and the filters.
  const pipelineConfig = { ...readPipelineConfig(env), landingTopic: ingressConfig.landingTopic, dlqTopic: ingressConfig.dlqTopic };
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const log = await openLog(config, env, logger, registry);
  const stopping: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stopping.reverse()) await stop().catch((error: unknown) => logger.error({ err: error }, 'stop failed'));
  };
  stopping.push(() => log.close());
  try {
    await ensurePipelineTopics(log, pipelineConfig, ingressConfig.landingPartitions);

    let streams: StreamsApp | undefined;
    let pipeline: DefaultPipeline | undefined;
    if (config.roles.includes('topology')) {
      const builder = new StreamsBuilder();
      pipeline = buildDefaultPipeline(builder, pipelineConfig, { logger: logger.child({ component: 'processors' }) });
      const app = new StreamsApp(builder.build(), log, {
        applicationId: config.applicationId,
        stateDir: path.join(config.dataDir, 'state'),
        commitIntervalMs: config.commitIntervalMs,
        dlqTopic: pipelineConfig.dlqTopic,
        defaultPartitions: config.defaultPartitions,
        registry,
        logger: logger.child({ component: 'topology' }),
      });
      streams = app;
      const closePipeline = pipeline;
      stopping.push(async () => {
        await app.close();
        closePipeline.close();
      });
      await app.start();
    }

    let analytics: AnalyticsRuntime | undefined;
    if (config.roles.includes('sink')) {
      analytics = await startAnalytics({
        env,
        dataDir: config.dataDir,
        log,
        registry,
        logger: logger.child({ component: 'sink' }),
        topics: { rawEvents: pipelineConfig.cleanEventsTopic, aggregates: pipelineConfig.aggregatesTopic },
      });
      stopping.push(analytics.stop);
    }

    const readinessChecks: ReadinessCheck[] = [];
    if (streams) readinessChecks.push({ name: 'topology', check: async () => streams!.state === 'RUNNING' });
    if (analytics) readinessChecks.push(analytics.readiness);
    const http = await buildIngress({
      log,
      config: ingressConfig,
      registry,
      logger: logger.child({ component: 'http' }),
      analytics: analytics?.analytics,
      readinessChecks,
    });
    if (streams && pipeline) await http.register(processorRoutes, { app: streams, pipeline, log });
    http.get('/topology', async (_request, reply) => {
      reply.type('text/plain');
      return streams ? streams.describe() : 'this instance runs no topology (ROLES)';
    });
    await registerConsole(http);
    const address = await http.listen({ host: ingressConfig.host, port: ingressConfig.port });
    stopping.push(() => http.close());
    logger.info({ address, mode: config.logMode, dataDir: config.dataDir, roles: config.roles }, 'streamline listening');

    let stopped: Promise<void> | undefined;
    const stop = () =>
      (stopped ??= (async () => {
        await stopAll();
        logger.info('stopped');
      })());
    return { config, log, http, streams, pipeline, analytics, registry, address, stop };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

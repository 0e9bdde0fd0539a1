import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { registerConsole } from '../console/index.js';
import { buildIngress, readIngressConfig, type ReadinessCheck } from '../ingress/index.js';
import type { Log } from '../log/Log.js';
import { processorRoutes, readPipelineConfig, type DefaultPipeline } from '../processors/index.js';
import type { AnalyticsRuntime } from '../sink/index.js';
import type { StreamsApp } from '../topology/index.js';
import { readAppConfig, withDataDirDefaults, type AppConfig } from './app-config.js';
import type { Env } from './env.js';
import { openLog } from './open-log.js';
import { StartSequence } from './StartSequence.js';

export interface RunningPipeline {
  config: AppConfig;
  log: Log;
  http: FastifyInstance;
  streams: StreamsApp | undefined;
  pipeline: DefaultPipeline | undefined;
  readonly analytics: AnalyticsRuntime | undefined;
  registry: Registry;
  /** Where the HTTP server listens, e.g. http://127.0.0.1:8080. */
  address: string;
  /** Resolves once topics, topology and sink run (later than listen when the broker was down); rejects with a fatal start error. */
  started: Promise<void>;
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
    // Topics, topology and sink: on Kafka with the broker down this returns early and goes on in
    // the background while the ingress spools (app/StartSequence.ts).
    const sequence = new StartSequence({ config, env, log, logger, registry, pipelineConfig, landingPartitions: ingressConfig.landingPartitions });
    stopping.push(() => sequence.stop());
    await sequence.start();
    const streams = sequence.streams;
    const pipeline = sequence.pipeline;

    const readinessChecks: ReadinessCheck[] = sequence.readinessChecks();
    const http = await buildIngress({
      log,
      config: ingressConfig,
      registry,
      logger: logger.child({ component: 'http' }),
      analytics: sequence.analyticsQuery(),
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
      started: sequence.done,
      stop,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { buildIngress, readIngressConfig } from '../ingress/index.js';
import type { Log } from '../log/Log.js';
import { StreamsApp } from '../topology/index.js';
import { readAppConfig, withDataDirDefaults, type AppConfig } from './app-config.js';
import type { Env } from './env.js';
import { examplePipeline } from './example-pipeline.js';
import { openLog } from './open-log.js';
import path from 'node:path';

export interface RunningPipeline {
  config: AppConfig;
  log: Log;
  http: FastifyInstance;
  streams: StreamsApp | undefined;
  /** Where the HTTP server listens, e.g. http://127.0.0.1:8080. */
  address: string;
  stop(): Promise<void>;
}

/**
 * Composes the process: the log, the topology, the HTTP server (ingress + query routes), and
 * stops them in the reverse order — HTTP first so nothing new is accepted, then the topology
 * (its last commit), then the log.
 */
export async function startPipeline(rawEnv: Env, logger: Logger): Promise<RunningPipeline> {
  const config = readAppConfig(rawEnv);
  const env = withDataDirDefaults(rawEnv, config);
  const ingressConfig = readIngressConfig(env);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const log = await openLog(config, env);
  let streams: StreamsApp | undefined;
  if (config.roles.includes('topology')) {
    streams = new StreamsApp(examplePipeline(ingressConfig.landingTopic), log, {
      applicationId: config.applicationId,
      stateDir: path.join(config.dataDir, 'state'),
      commitIntervalMs: config.commitIntervalMs,
      dlqTopic: ingressConfig.dlqTopic,
      defaultPartitions: config.defaultPartitions,
      registry,
      logger: logger.child({ component: 'topology' }),
    });
    await log.ensureTopic(ingressConfig.landingTopic, { partitions: ingressConfig.landingPartitions });
    await streams.start();
  }

  const http = await buildIngress({
    log,
    config: ingressConfig,
    registry,
    logger: logger.child({ component: 'http' }),
    readinessChecks: streams ? [{ name: 'topology', check: async () => streams!.state === 'RUNNING' }] : [],
  });
  http.get('/topology', async (_request, reply) => {
    reply.type('text/plain');
    return streams ? streams.describe() : 'this instance runs no topology (ROLES)';
  });
  const address = await http.listen({ host: ingressConfig.host, port: ingressConfig.port });
  logger.info({ address, mode: config.logMode, dataDir: config.dataDir, roles: config.roles }, 'streamline listening');

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await http.close();
      await streams?.close();
      await log.close();
      logger.info('stopped');
    })());
  return { config, log, http, streams, address, stop };
}

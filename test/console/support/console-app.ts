import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { registerConsole } from '../../../console/index.js';
import { buildIngress, readIngressConfig } from '../../../ingress/index.js';
import { openEmbeddedLog } from '../../../log/embedded/index.js';
import type { Log } from '../../../log/Log.js';
import { buildDefaultPipeline, ensurePipelineTopics, processorRoutes, readPipelineConfig } from '../../../processors/index.js';
import { startAnalytics, type AnalyticsRuntime } from '../../../sink/index.js';
import { StreamsApp, StreamsBuilder } from '../../../topology/index.js';
import type { FastifyInstance } from 'fastify';

export interface ConsoleApp {
  http: FastifyInstance;
  log: Log;
  streams: StreamsApp;
  address: string;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * The service as app/Pipeline.ts composes it — embedded log, the default topology, the ingress,
 * seed 002's processor routes, GET /topology, optionally the ClickHouse sink on chDB with seed
 * 004's query — plus the console, on a temp data dir and a free port.
 */
export async function startConsoleApp(options: { analytics?: boolean } = {}): Promise<ConsoleApp> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-console-'));
  const env = { DATA_DIR: dataDir, BUFFER_DIR: path.join(dataDir, 'buffer'), PORT: '0', HOST: '127.0.0.1', DLQ_TOPIC: 'dlq.events' };
  const logger = pino({ level: 'warn' });
  const registry = new Registry();
  const log = await openEmbeddedLog({ dir: path.join(dataDir, 'log'), defaultPartitions: 2 });
  const ingressConfig = readIngressConfig(env);
  const pipelineConfig = readPipelineConfig(env);
  const builder = new StreamsBuilder();
  const pipeline = buildDefaultPipeline(builder, pipelineConfig, { logger });
  await ensurePipelineTopics(log, pipelineConfig, 2);
  const streams = new StreamsApp(builder.build(), log, {
    applicationId: 'streamline',
    stateDir: path.join(dataDir, 'state'),
    dlqTopic: pipelineConfig.dlqTopic,
    commitIntervalMs: 50,
    registry,
    logger,
  });
  await streams.start();
  let analytics: AnalyticsRuntime | undefined;
  if (options.analytics) {
    analytics = await startAnalytics({
      env: { SINK_BATCH_LINGER: '20ms' },
      dataDir,
      log,
      registry,
      logger,
      topics: { rawEvents: pipelineConfig.landingTopic, aggregates: pipelineConfig.aggregatesTopic },
    });
  }
  const http = await buildIngress({
    log,
    config: ingressConfig,
    registry,
    logger,
    analytics: analytics?.analytics,
    readinessChecks: [{ name: 'topology', check: async () => streams.state === 'RUNNING' }, ...(analytics ? [analytics.readiness] : [])],
  });
  await http.register(processorRoutes, { app: streams, pipeline, log });
  http.get('/topology', async (_request, reply) => reply.type('text/plain').send(streams.describe()));
  await registerConsole(http);
  const address = await http.listen({ host: '127.0.0.1', port: 0 });
  return {
    http,
    log,
    streams,
    address,
    dataDir,
    async stop() {
      await http.close();
      await streams.close();
      await analytics?.stop();
      pipeline.close();
      await log.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { readAdminConfig } from '../../../app/AdminConfig.js';
import { startListeners } from '../../../app/Listeners.js';
import { readIngressConfig } from '../../../ingress/index.js';
import { openEmbeddedLog } from '../../../log/embedded/index.js';
import type { Log } from '../../../log/Log.js';
import { buildDefaultPipeline, ensurePipelineTopics, readPipelineConfig } from '../../../processors/index.js';
import { startAnalytics, type AnalyticsRuntime } from '../../../sink/index.js';
import { StreamsApp, StreamsBuilder } from '../../../topology/index.js';
import type { FastifyInstance } from 'fastify';

export interface ConsoleApp {
  /** The public listener: ingestion, health, metrics. */
  http: FastifyInstance;
  /** The admin listener: processor API, /topology, the dashboard and the docs (behind options.adminToken when given). */
  admin: FastifyInstance;
  log: Log;
  streams: StreamsApp;
  address: string;
  adminAddress: string;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * The service as app/Service.ts composes it — embedded log, the default topology, optionally the
 * ClickHouse sink on chDB with seed 004's query, and its two listeners (app/Listeners.ts): the
 * ingress on the public one; seed 002's processor routes, GET /topology and the console on the
 * admin one — on a temp data dir and free ports.
 */
export async function startConsoleApp(options: { analytics?: boolean; adminToken?: string } = {}): Promise<ConsoleApp> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-console-'));
  const env = { DATA_DIR: dataDir, BUFFER_DIR: path.join(dataDir, 'buffer'), PORT: '0', HOST: '127.0.0.1', DLQ_TOPIC: 'dlq.events', ...(options.adminToken ? { ADMIN_TOKEN: options.adminToken } : {}) };
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
  const closing: Array<() => Promise<void>> = [];
  const { http, admin, address, adminAddress } = await startListeners({
    ingressConfig,
    adminConfig: readAdminConfig(env, ingressConfig),
    log,
    registry,
    logger,
    analytics: analytics?.analytics,
    readinessChecks: [{ name: 'topology', check: async () => streams.state === 'RUNNING' }, ...(analytics ? [analytics.readiness] : [])],
    streams,
    pipeline,
    onClose: (close) => closing.unshift(close),
  });
  return {
    http,
    admin: admin!,
    log,
    streams,
    address,
    adminAddress: adminAddress!,
    dataDir,
    async stop() {
      for (const close of closing) await close();
      await streams.close();
      await analytics?.stop();
      pipeline.close();
      await log.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

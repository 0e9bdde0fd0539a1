import path from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Log } from '../log/Log.js';
import { buildDefaultPipeline, type DefaultPipeline } from '../processors/DefaultPipeline.js';
import type { PipelineConfig } from '../processors/PipelineConfig.js';
import { readProcessingFailures } from '../processors/ProcessingFailures.js';
import { registerSeedMetrics } from '../processors/SeedMetrics.js';
import { StreamsApp, StreamsBuilder } from '../topology/index.js';
import type { AppConfig } from './AppConfig.js';
import { readMaxPollRecords } from './StreamConfig.js';
import type { Env } from '../config/index.js';

/** The topology role of a process or a stream thread: the default pipeline on its StreamsApp. */
export interface TopologyRole {
  builder: StreamsBuilder;
  pipeline: DefaultPipeline;
  streams: StreamsApp;
}

export interface TopologyRoleOptions {
  config: AppConfig;
  env: Env;
  log: Log;
  logger: Logger;
  registry: Registry;
  pipelineConfig: PipelineConfig;
  /** The stream thread this runs in (app/threads/): its global tables get their own directory. */
  threadName?: string;
}

/**
 * Builds the default pipeline and the app that will run it (started later, by StartSequence).
 * Loaded by StartSequence only for the topology role: a thread that runs only the sink does not
 * load the topology, the processors and the state stores (issue 13: its idle heap).
 */
export function createTopologyRole(options: TopologyRoleOptions): TopologyRole {
  const { config, env, log, logger, registry, pipelineConfig, threadName } = options;
  const builder = new StreamsBuilder();
  const pipeline = buildDefaultPipeline(builder, pipelineConfig, { logger: logger.child({ component: 'processors' }), failures: readProcessingFailures(env) });
  const streams = new StreamsApp(builder.build(), log, {
    applicationId: config.applicationId,
    stateDir: path.join(config.dataDir, 'state'),
    ...(threadName ? { globalStateDir: path.join(config.dataDir, 'state', config.applicationId, `global-${threadName}`) } : {}),
    commitIntervalMs: config.commitIntervalMs,
    dlqTopic: pipelineConfig.dlqTopic,
    defaultPartitions: config.defaultPartitions,
    maxPollRecords: readMaxPollRecords(env),
    registry,
    logger: logger.child({ component: 'topology' }),
  });
  // Seed 002's seven metrics under their own names (issue 20 part 1).
  registerSeedMetrics(registry, streams, pipeline);
  return { builder, pipeline, streams };
}

import path from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Log } from '../log/Log.js';
import { openEmbeddedLog, type EmbeddedLogOptions } from '../log/embedded/index.js';
import { readLogRetentionBytes } from '../log/embedded/LogCleaner.js';
import { readKafkaConfig } from '../log/kafka/KafkaConfig.js';
import type { AppConfig } from './AppConfig.js';
import type { Env } from '../config/index.js';

/** The one place that picks the mode: Kafka when brokers are configured, the embedded log otherwise. */
export async function openLog(config: AppConfig, env: Env, logger?: Logger, registry?: Registry): Promise<Log> {
  if (config.logMode === 'kafka') {
    const kafka = readKafkaConfig(env);
    if (!kafka) throw new Error('KAFKA_BROKERS is set but no Kafka configuration could be read');
    // Loaded only in Kafka mode: the client's import alone costs ~1 s of CPU (hundreds of
    // protocol modules), a third of the restart budget on embedded defaults.
    const { openKafkaLog } = await import('../log/kafka/KafkaLog.js');
    return openKafkaLog({ ...kafka, logger: logger?.child({ component: 'kafka' }), registry });
  }
  return openEmbeddedLog({ ...embeddedLogOptions(config, env), registry, logger: logger?.child({ component: 'log' }) });
}

/** The embedded log's settings, for this thread or the log's own thread (app/threads/). */
export function embeddedLogOptions(config: AppConfig, env: Env): EmbeddedLogOptions {
  return { dir: path.join(config.dataDir, 'log'), defaultPartitions: config.defaultPartitions, retentionBytes: readLogRetentionBytes(env) };
}

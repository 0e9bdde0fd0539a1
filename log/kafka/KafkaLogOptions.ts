import type { KafkaLogOptions } from './KafkaConfig.js';

/** KafkaLogOptions with every default filled in (logger, registry and security stay optional). */
export type ResolvedKafkaLogOptions = Required<Omit<KafkaLogOptions, 'logger' | 'registry' | 'security'>> & Pick<KafkaLogOptions, 'logger' | 'registry' | 'security'>;

export function resolveKafkaLogOptions(options: KafkaLogOptions): ResolvedKafkaLogOptions {
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
  return {
    brokers: options.brokers,
    clientId: options.clientId,
    compression: options.compression ?? 'none',
    acks: options.acks ?? 'all',
    retries: options.retries ?? 5,
    retryBackoffMs: options.retryBackoffMs ?? 250,
    produceTimeoutMs: options.produceTimeoutMs ?? 30_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 3_000,
    sessionTimeoutMs,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? Math.max(100, Math.min(1000, Math.floor(sessionTimeoutMs / 3))),
    transactionTimeoutMs: options.transactionTimeoutMs ?? 10_000,
    healthTimeoutMs: options.healthTimeoutMs ?? 1_000,
    logger: options.logger,
    registry: options.registry,
    security: options.security,
  };
}

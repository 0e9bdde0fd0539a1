import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ConfigError, readDurationMs, readEnum, readInteger, readList, readOptionalString, readString, type Env } from '../../config/index.js';
import { readKafkaSecurity, type KafkaSecurity } from './KafkaSecurity.js';

/**
 * Kafka settings from the environment, under the seeds' names:
 *   KAFKA_BROKERS (or KAFKA_BOOTSTRAP_SERVERS)  comma-separated host:port list; unset = embedded mode
 *   KAFKA_CLIENT_ID           client id prefix (default "streamline")
 *   KAFKA_COMPRESSION_TYPE    none | gzip | snappy | lz4 | zstd (zstd needs Node ≥ 22.15: refused on 20)
 *   KAFKA_ACKS                all | -1 | 1 | 0 (default all; anything but all turns idempotence off)
 *   KAFKA_PRODUCER_RETRIES / KAFKA_MAX_RETRIES   retries of a failed request (default 5)
 *   KAFKA_RETRY_BACKOFF_MS    pause between retries (default 250ms; "500ms", "1s" accepted)
 *   KAFKA_PRODUCER_TIMEOUT    bound on one produce call, retries included (default 30s)
 *   KAFKA_REQUEST_TIMEOUT     one request's timeout (default 10s)
 *   KAFKA_CONNECT_TIMEOUT     one connection attempt's timeout (default 3s)
 *   KAFKA_SESSION_TIMEOUT     consumer group session timeout (default 10s)
 *   KAFKA_TRANSACTION_TIMEOUT transaction timeout the broker enforces on a silent producer (default 10s)
 *   KAFKA_SECURITY_PROTOCOL, KAFKA_SSL*, KAFKA_SASL*  TLS and SASL: see KafkaSecurity.ts
 */
export type KafkaCompression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export type KafkaAcks = 'all' | '1' | '0';

export interface KafkaLogOptions {
  brokers: string[];
  clientId: string;
  compression?: KafkaCompression;
  acks?: KafkaAcks;
  retries?: number;
  retryBackoffMs?: number;
  produceTimeoutMs?: number;
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  transactionTimeoutMs?: number;
  /** TLS / SASL for every client of the log (KafkaSecurity.ts); unset = PLAINTEXT. */
  security?: KafkaSecurity;
  /** Timeout of the metadata request behind isHealthy(). */
  healthTimeoutMs?: number;
  /** Where consumers report a broker they cannot reach (and its recovery). */
  logger?: Logger;
  /** Registers streamline_kafka_* metrics when given. */
  registry?: Registry;
}

export const KAFKA_COMPRESSIONS: readonly KafkaCompression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** The brokers to use, or undefined when neither KAFKA_BROKERS nor KAFKA_BOOTSTRAP_SERVERS is set. */
export function readKafkaBrokers(env: Env): string[] | undefined {
  const name = readOptionalString(env, 'KAFKA_BROKERS') !== undefined ? 'KAFKA_BROKERS' : 'KAFKA_BOOTSTRAP_SERVERS';
  const brokers = readList(env, name, []);
  if (brokers.length === 0) return undefined;
  for (const broker of brokers) {
    if (!/^[^:\s]+:\d{1,5}$/.test(broker)) throw new ConfigError(`${name} entry "${broker}" is not host:port`);
  }
  return brokers;
}

export function readKafkaConfig(env: Env): KafkaLogOptions | undefined {
  const brokers = readKafkaBrokers(env);
  if (!brokers) return undefined;
  const acksRaw = readEnum(env, 'KAFKA_ACKS', ['all', '-1', '1', '0'] as const, 'all');
  const retriesName = readOptionalString(env, 'KAFKA_PRODUCER_RETRIES') !== undefined ? 'KAFKA_PRODUCER_RETRIES' : 'KAFKA_MAX_RETRIES';
  return {
    brokers,
    clientId: readString(env, 'KAFKA_CLIENT_ID', 'streamline'),
    compression: readEnum(env, 'KAFKA_COMPRESSION_TYPE', KAFKA_COMPRESSIONS, 'none'),
    acks: acksRaw === '-1' ? 'all' : acksRaw,
    retries: readInteger(env, retriesName, 5, 0, 1000),
    retryBackoffMs: readDurationMs(env, 'KAFKA_RETRY_BACKOFF_MS', 250),
    produceTimeoutMs: readDurationMs(env, 'KAFKA_PRODUCER_TIMEOUT', 30_000),
    requestTimeoutMs: readDurationMs(env, 'KAFKA_REQUEST_TIMEOUT', 10_000),
    connectTimeoutMs: readDurationMs(env, 'KAFKA_CONNECT_TIMEOUT', 3_000),
    sessionTimeoutMs: readDurationMs(env, 'KAFKA_SESSION_TIMEOUT', 10_000),
    transactionTimeoutMs: readDurationMs(env, 'KAFKA_TRANSACTION_TIMEOUT', 10_000),
    security: readKafkaSecurity(env),
  };
}

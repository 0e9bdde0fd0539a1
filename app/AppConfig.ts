import path from 'node:path';
import { type Env, readEnum, readInteger, readList, readOptionalString, readString } from '../config/index.js';

/**
 * Settings of the whole process that no single component owns. Component settings (ingress,
 * Kafka, ClickHouse, processors) are read by their own modules from the same environment.
 */
export interface AppConfig {
  /** Everything local lives under here: the embedded log, state stores, chDB, the spool. */
  dataDir: string;
  /** Names the topology's consumer group, transactional id and internal topics. */
  applicationId: string;
  /** 'embedded' unless KAFKA_BROKERS (or KAFKA_BOOTSTRAP_SERVERS) is set. */
  logMode: 'embedded' | 'kafka';
  kafkaBrokers: string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Partitions of topics the runtime creates in the embedded log. */
  defaultPartitions: number;
  commitIntervalMs: number;
  /** Which parts this process runs: a scaled-out deployment may split ingress and topology. */
  roles: Array<'ingress' | 'topology' | 'sink'>;
}

const ROLES = ['ingress', 'topology', 'sink'] as const;

export function readAppConfig(env: Env = process.env): AppConfig {
  const brokers = readList(env, 'KAFKA_BROKERS', readList(env, 'KAFKA_BOOTSTRAP_SERVERS', []));
  const roles = readList(env, 'ROLES', [...ROLES]);
  for (const role of roles) {
    if (!(ROLES as readonly string[]).includes(role)) throw new Error(`ROLES contains "${role}"; allowed: ${ROLES.join(', ')}`);
  }
  return {
    dataDir: path.resolve(readString(env, 'DATA_DIR', './data')),
    applicationId: readString(env, 'APPLICATION_ID', 'streamline'),
    logMode: brokers.length > 0 ? 'kafka' : 'embedded',
    kafkaBrokers: brokers,
    logLevel: readEnum(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    defaultPartitions: readInteger(env, 'DEFAULT_PARTITIONS', 4, 1, 10_000),
    commitIntervalMs: readInteger(env, 'COMMIT_INTERVAL_MS', 100, 1, 60_000),
    roles: roles as AppConfig['roles'],
  };
}

/** BUFFER_DIR defaults to the data dir's buffer/ so one DATA_DIR moves everything. */
export function withDataDirDefaults(env: Env, config: AppConfig): Env {
  return { ...env, BUFFER_DIR: readOptionalString(env, 'BUFFER_DIR') ?? path.join(config.dataDir, 'buffer') };
}

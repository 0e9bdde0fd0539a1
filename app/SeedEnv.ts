import type { Logger } from 'pino';
import { ConfigError, type Env, readBoolean, readInteger, readList, readOptionalString } from '../config/index.js';

/**
 * The environment variables the five seed services define that we do not read under the same
 * name, translated into ours before any component reads its settings, so a deployment file
 * written for a seed keeps its meaning. Those with no meaning here are named in one warning line
 * at start, each with what to use instead. docs/CONFIG.md has the table; SEED_ENV_TABLE is it.
 *
 * A seed variable never overrides ours: when both are set, ours wins (REDIS_URL over
 * REDIS_ADDRESS, MAX_POLL_RECORDS over EVENT_PROCESSOR_BUFFER_SIZE).
 */
export interface SeedVariable {
  seed: string;
  /** Seed service(s) defining it. */
  from: string;
  ours: string;
  effect: string;
}

export const SEED_ENV_TABLE: SeedVariable[] = [
  { seed: 'REDIS_ADDRESS', from: '002', ours: 'REDIS_URL', effect: 'redis://[:REDIS_PASSWORD@]REDIS_ADDRESS/REDIS_DEDUPLICATION_DB: the ingress Redis (idempotency keys, shared rate limits)' },
  { seed: 'REDIS_PASSWORD', from: '002', ours: 'REDIS_URL', effect: 'the password part of REDIS_URL' },
  { seed: 'REDIS_DEDUPLICATION_DB', from: '002', ours: 'REDIS_URL', effect: 'the database number of REDIS_URL (the ingress keeps its idempotency keys there)' },
  { seed: 'REDIS_POOL_SIZE', from: '002', ours: '-', effect: 'warning: ioredis multiplexes one pipelined connection, there is no pool to size' },
  { seed: 'REDIS_ENRICHMENT_DB', from: '002', ours: 'REF_USERS_TOPIC, REF_ITEMS_TOPIC', effect: 'warning: reference data lives in local RocksDB tables fed by topics, not in Redis' },
  { seed: 'REDIS_AGGREGATION_DB', from: '002', ours: 'AGGREGATES_TOPIC', effect: 'warning: aggregations live in local window stores (GET /processor/aggregation), not in Redis' },
  { seed: 'EVENT_PROCESSOR_ENABLED', from: '002', ours: 'ROLES', effect: 'false removes topology from ROLES (no processing in this process); true changes nothing' },
  { seed: 'EVENT_PROCESSOR_WORKERS', from: '002', ours: 'STREAM_THREADS', effect: 'stream threads (worker threads running the topology\'s tasks); more than a sub-topology has tasks sit idle' },
  { seed: 'EVENT_PROCESSOR_BUFFER_SIZE', from: '002', ours: 'MAX_POLL_RECORDS', effect: 'records the stream loop takes per poll (default 5000)' },
  { seed: 'SERVER_PORT', from: '004', ours: 'PORT', effect: 'the public listener port (PORT wins when both are set)' },
  { seed: 'SERVER_READ_TIMEOUT', from: '000, 004', ours: 'SERVER_READ_TIMEOUT', effect: "Node's requestTimeout: the whole request must arrive within it (408 otherwise); default 5m" },
  { seed: 'SERVER_WRITE_TIMEOUT', from: '000, 004', ours: 'SERVER_WRITE_TIMEOUT', effect: "fastify's connectionTimeout: a socket with no traffic for this long (a stalled response) is closed; default off" },
  { seed: 'SERVER_IDLE_TIMEOUT', from: '000', ours: 'SERVER_IDLE_TIMEOUT', effect: "fastify's keepAliveTimeout: idle keep-alive connections are closed after it; default 72s" },
  { seed: 'KAFKA_MAX_IN_FLIGHT', from: '001', ours: '-', effect: 'warning unless 1: the producer already sends one request at a time per client (ordering with idempotence)' },
  { seed: 'KAFKA_PRODUCER_BATCH_SIZE', from: '003', ours: '-', effect: 'warning: produce calls of one event-loop turn and those queued behind a send are coalesced into one request; no size to set' },
  { seed: 'KAFKA_PRODUCER_BATCH_TIMEOUT', from: '003', ours: '-', effect: 'warning: no linger is added (batching comes from coalescing, see above)' },
  { seed: 'GO_ENV', from: '000', ours: 'LOG_LEVEL, NODE_ENV', effect: 'warning: no effect; set LOG_LEVEL for verbosity' },
];

export interface TranslatedEnv {
  env: Env;
  /** Seed variables that were set and have no effect, with what to use instead. */
  ignored: Array<{ name: string; instead: string }>;
}

const ROLES = ['ingress', 'topology', 'sink'];

export function translateSeedEnv(given: Env): TranslatedEnv {
  const env: Env = { ...given };
  const ignored: TranslatedEnv['ignored'] = [];
  const set = (name: string) => readOptionalString(given, name) !== undefined;

  const address = readOptionalString(given, 'REDIS_ADDRESS');
  if (address !== undefined && readOptionalString(given, 'REDIS_URL') === undefined) {
    if (!/^[^\s/:@]+:\d{1,5}$/.test(address)) throw new ConfigError(`REDIS_ADDRESS="${address}" is not host:port`);
    const password = readOptionalString(given, 'REDIS_PASSWORD');
    const db = readInteger(given, 'REDIS_DEDUPLICATION_DB', 0, 0, 10_000);
    env.REDIS_URL = `redis://${password !== undefined ? `:${encodeURIComponent(password)}@` : ''}${address}/${db}`;
  } else if (address === undefined && (set('REDIS_PASSWORD') || set('REDIS_DEDUPLICATION_DB')) && !set('REDIS_URL')) {
    ignored.push({ name: set('REDIS_PASSWORD') ? 'REDIS_PASSWORD' : 'REDIS_DEDUPLICATION_DB', instead: 'REDIS_ADDRESS or REDIS_URL (without an address there is no Redis)' });
  }
  if (set('REDIS_POOL_SIZE')) ignored.push({ name: 'REDIS_POOL_SIZE', instead: 'nothing (one multiplexed connection)' });
  if (set('REDIS_ENRICHMENT_DB')) ignored.push({ name: 'REDIS_ENRICHMENT_DB', instead: 'REF_USERS_TOPIC/REF_ITEMS_TOPIC (reference tables are local stores)' });
  if (set('REDIS_AGGREGATION_DB')) ignored.push({ name: 'REDIS_AGGREGATION_DB', instead: 'AGGREGATES_TOPIC (aggregations are local window stores)' });

  if (!readBoolean(given, 'EVENT_PROCESSOR_ENABLED', true)) {
    const roles = readList(given, 'ROLES', ROLES).filter((role) => role !== 'topology');
    if (roles.length === 0) throw new ConfigError('EVENT_PROCESSOR_ENABLED=false leaves ROLES empty: add ingress or sink to ROLES');
    env.ROLES = roles.join(',');
  }
  if (set('EVENT_PROCESSOR_WORKERS') && !set('STREAM_THREADS')) env.STREAM_THREADS = String(readInteger(given, 'EVENT_PROCESSOR_WORKERS', 1, 1, 64));
  const buffer = readOptionalString(given, 'EVENT_PROCESSOR_BUFFER_SIZE');
  if (buffer !== undefined && readOptionalString(given, 'MAX_POLL_RECORDS') === undefined) env.MAX_POLL_RECORDS = String(readInteger(given, 'EVENT_PROCESSOR_BUFFER_SIZE', 5000, 1, 1_000_000));

  const inFlight = readInteger(given, 'KAFKA_MAX_IN_FLIGHT', 1, 1, 1000);
  if (inFlight !== 1) ignored.push({ name: 'KAFKA_MAX_IN_FLIGHT', instead: 'nothing (one request in flight per producer keeps order)' });
  if (set('KAFKA_PRODUCER_BATCH_SIZE')) ignored.push({ name: 'KAFKA_PRODUCER_BATCH_SIZE', instead: 'nothing (concurrent produce calls are coalesced into one request)' });
  if (set('KAFKA_PRODUCER_BATCH_TIMEOUT')) ignored.push({ name: 'KAFKA_PRODUCER_BATCH_TIMEOUT', instead: 'nothing (no linger is added)' });
  if (set('GO_ENV')) ignored.push({ name: 'GO_ENV', instead: 'LOG_LEVEL' });
  return { env, ignored };
}

/** The one warning line naming every seed variable that has no effect here, or undefined. */
export function seedEnvWarning(ignored: TranslatedEnv['ignored']): string | undefined {
  if (ignored.length === 0) return undefined;
  return `seed settings with no effect here (see docs/CONFIG.md): ${ignored.map(({ name, instead }) => `${name} -> ${instead}`).join('; ')}`;
}

/** translateSeedEnv, logging its warning line once. */
export function applySeedEnv(given: Env, logger: Logger): Env {
  const { env, ignored } = translateSeedEnv(given);
  const warning = seedEnvWarning(ignored);
  if (warning) logger.warn({ ignored: ignored.map((i) => i.name) }, warning);
  return env;
}

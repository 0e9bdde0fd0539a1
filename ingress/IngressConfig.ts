import {
  ConfigError,
  type Env,
  readBoolean,
  readDurationMs,
  readInteger,
  readList,
  readOptionalString,
  readString,
  readTopicNames,
  type TopicNames,
} from '../config/index.js';
import { parseCidr } from './ClientAddress.js';

/**
 * Settings of the HTTP ingress. Env var names follow the seeds where a seed named one
 * (PORT / SERVER_PORT, KAFKA_TOPIC, DLQ_TOPIC, BUFFER_DIR, MAX_BUFFER_SIZE_MB, RATE_LIMIT_*,
 * CIRCUIT_BREAKER_*); the rest are ours and prefixed INGRESS_ where a bare name would be vague.
 */
export interface IngressConfig {
  host: string;
  port: number;
  /** Landing topic every accepted event is written to (keyed by user id / learner id). */
  landingTopic: string;
  /** Partitions the ingress asks for when it has to create the landing topic. */
  landingPartitions: number;
  dlqTopic: string;
  /** Largest request body, after gzip inflation (a zip bomb stops here with 413). */
  maxBodyBytes: number;
  /** Largest single event, measured as its JSON payload. */
  maxEventBytes: number;
  /** Deepest nesting an event may have (the event object is level 1); deeper events are refused before anything recurses over them. */
  maxEventDepth: number;
  /** Seed 000's batch limit. */
  maxSeed000BatchEvents: number;
  /** Seed 001's batch limit (1–1000). */
  maxCollectorBatchEvents: number;
  /** /events/bulk limit. */
  maxBulkEvents: number;
  /** Requests whose bodies would take the in-flight total past this answer 503 + Retry-After. */
  maxInFlightBytes: number;
  /** Ingest requests admitted and not yet answered at which more are refused before they are read (0: no bound). */
  maxRequestsInFlight: number;
  /** How far behind the HTTP thread's event loop may be before intake is refused before it is read (0: no bound). */
  maxLoopDelayMs: number;
  rateLimit: {
    /** Per user; 0 turns per-user limiting off. */
    requestsPerMinute: number;
    burst: number;
    /** Per client IP; 0 turns per-IP limiting off. */
    ipRequestsPerMinute: number;
    ipBurst: number;
    /**
     * Client addresses (CIDRs) the per-IP limit skips when they connect directly (no
     * X-Forwarded-For / Forwarded header): by default loopback, so a benchmark or a sidecar on
     * the same host is not throttled as one abusive client. Empty: every address is limited.
     */
    ipExempt: string[];
    cleanupIntervalMs: number;
  };
  breaker: {
    /** Consecutive produce failures that open the breaker. */
    threshold: number;
    /** How long the breaker stays open before a half-open probe. */
    timeoutMs: number;
    /** Produce calls allowed through while half-open. */
    maxRequests: number;
  };
  /** A produce call slower than this counts as a failure and the events go to the spool. */
  produceTimeoutMs: number;
  spool: {
    dir: string;
    maxBytes: number;
    segmentBytes: number;
  };
  idempotency: {
    /** Default dedupe window for event kinds whose schema does not name one. */
    ttlMs: number;
    /** In-memory LRU capacity (ids). */
    maxKeys: number;
  };
  redisUrl?: string;
  redisKeyPrefix: string;
  trustProxy: boolean;
  /** Seconds advertised in Retry-After when the ingress sheds load. */
  retryAfterSeconds: number;
  /** Seeds 000/004's SERVER_*_TIMEOUT (Go durations such as "30s"), as the public listener's timeouts. */
  serverTimeouts: {
    /** SERVER_READ_TIMEOUT: Node's requestTimeout, the whole request within it (default 5m, Node's). */
    requestMs: number;
    /** SERVER_WRITE_TIMEOUT: fastify's connectionTimeout, socket inactivity (0 = off, the default). */
    socketMs: number;
    /** SERVER_IDLE_TIMEOUT: fastify's keepAliveTimeout (default 72s, fastify's). */
    keepAliveMs: number;
  };
}

const MB = 1024 * 1024;

/** topics: the names the pipeline shares (config/TopicNames.ts); the composition root reads them once for both. */
export function readIngressConfig(env: Env = process.env, topics: TopicNames = readTopicNames(env)): IngressConfig {
  const port = readInteger(env, 'PORT', readInteger(env, 'SERVER_PORT', 8080, 0, 65535), 0, 65535);
  const maxBodyBytes = readInteger(env, 'INGRESS_MAX_BODY_BYTES', 10 * MB, 1024);
  const maxEventBytes = readInteger(env, 'INGRESS_MAX_EVENT_BYTES', 64 * 1024, 256);
  if (maxEventBytes > maxBodyBytes) {
    throw new ConfigError(`INGRESS_MAX_EVENT_BYTES=${maxEventBytes} is larger than INGRESS_MAX_BODY_BYTES=${maxBodyBytes}`);
  }
  const maxBufferMb = readInteger(env, 'MAX_BUFFER_SIZE_MB', 100, 1, 1024 * 1024);
  return {
    host: readString(env, 'HOST', '0.0.0.0'),
    port,
    landingTopic: topics.landing,
    landingPartitions: readInteger(env, 'INGRESS_LANDING_PARTITIONS', 4, 1, 10_000),
    dlqTopic: topics.dlq,
    maxBodyBytes,
    maxEventBytes,
    maxEventDepth: readInteger(env, 'INGRESS_MAX_EVENT_DEPTH', 32, 2, 10_000),
    maxSeed000BatchEvents: readInteger(env, 'INGRESS_SEED000_BATCH_MAX', 100, 1, 100_000),
    maxCollectorBatchEvents: readInteger(env, 'INGRESS_COLLECTOR_BATCH_MAX', 1000, 1, 100_000),
    maxBulkEvents: readInteger(env, 'INGRESS_BULK_MAX', 1000, 1, 100_000),
    maxInFlightBytes: readInteger(env, 'INGRESS_MAX_IN_FLIGHT_BYTES', 256 * MB, 1024),
    // Admission (IntakeAdmission.ts): a spike is refused at once instead of waiting in the
    // clients' connection queues and the socket buffers. 512: above the ~400 in flight of seed
    // 004's 2,000 requests/s answered within its 200 ms p99 (Little's law), so traffic the
    // service serves within target is never refused for it.
    maxRequestsInFlight: readInteger(env, 'INGRESS_MAX_REQUESTS_IN_FLIGHT', 512, 0, 1_000_000),
    maxLoopDelayMs: readDurationMs(env, 'INGRESS_MAX_LOOP_DELAY', 0),
    rateLimit: {
      requestsPerMinute: readInteger(env, 'RATE_LIMIT_REQUESTS_PER_MINUTE', 60_000, 0),
      burst: readInteger(env, 'RATE_LIMIT_BURST', 2_000, 1),
      // 100 requests/s per client address, bursts of 1,000: far above what one browser, phone or
      // NAT'd office sends, far below what would let one host crowd out the rest. Loopback is
      // exempt by default (RATE_LIMIT_IP_EXEMPT), which is what lets seed 004's 20k RPS spike from
      // one local load generator through; see ingress/README.md for the trade-off.
      ipRequestsPerMinute: readInteger(env, 'RATE_LIMIT_IP_REQUESTS_PER_MINUTE', 6_000, 0),
      ipBurst: readInteger(env, 'RATE_LIMIT_IP_BURST', 1_000, 1),
      ipExempt: readIpExemptions(env),
      cleanupIntervalMs: readDurationMs(env, 'RATE_LIMIT_CLEANUP_INTERVAL', 60_000),
    },
    breaker: {
      threshold: readInteger(env, 'CIRCUIT_BREAKER_THRESHOLD', 5, 1),
      timeoutMs: readDurationMs(env, 'CIRCUIT_BREAKER_TIMEOUT', 10_000),
      maxRequests: readInteger(env, 'CIRCUIT_BREAKER_MAX_REQUESTS', 3, 1),
    },
    produceTimeoutMs: readDurationMs(env, 'INGRESS_PRODUCE_TIMEOUT', 5_000),
    spool: {
      dir: readString(env, 'BUFFER_DIR', './data/buffer'),
      maxBytes: maxBufferMb * MB,
      segmentBytes: readInteger(env, 'INGRESS_SPOOL_SEGMENT_BYTES', 8 * MB, 4096),
    },
    idempotency: {
      ttlMs: readDurationMs(env, 'IDEMPOTENCY_TTL', 24 * 3_600_000),
      maxKeys: readInteger(env, 'IDEMPOTENCY_MAX_KEYS', 200_000, 2),
    },
    redisUrl: readOptionalString(env, 'REDIS_URL'),
    redisKeyPrefix: readString(env, 'INGRESS_REDIS_PREFIX', 'streamline:ingress:'),
    trustProxy: readBoolean(env, 'TRUST_PROXY', false),
    retryAfterSeconds: readInteger(env, 'INGRESS_RETRY_AFTER_SECONDS', 1, 1, 3600),
    serverTimeouts: {
      requestMs: readDurationMs(env, 'SERVER_READ_TIMEOUT', 300_000),
      socketMs: readDurationMs(env, 'SERVER_WRITE_TIMEOUT', 0),
      keepAliveMs: readDurationMs(env, 'SERVER_IDLE_TIMEOUT', 72_000),
    },
  };
}

/** RATE_LIMIT_IP_EXEMPT: comma-separated CIDRs or addresses; "none" limits every address. */
function readIpExemptions(env: Env): string[] {
  const list = readList(env, 'RATE_LIMIT_IP_EXEMPT', ['127.0.0.0/8', '::1/128']);
  if (list.length === 1 && list[0]!.toLowerCase() === 'none') return [];
  for (const entry of list) {
    try {
      parseCidr(entry);
    } catch (error) {
      throw new ConfigError(`RATE_LIMIT_IP_EXEMPT: ${(error as Error).message} (use CIDRs such as 127.0.0.0/8,::1/128, or "none")`);
    }
  }
  return list;
}

/** Defaults with overrides, for tests and for composing the app in code. */
export function ingressConfig(overrides: Partial<IngressConfig> = {}, env: Env = {}): IngressConfig {
  const base = readIngressConfig(env);
  return {
    ...base,
    ...overrides,
    rateLimit: { ...base.rateLimit, ...overrides.rateLimit },
    breaker: { ...base.breaker, ...overrides.breaker },
    spool: { ...base.spool, ...overrides.spool },
    idempotency: { ...base.idempotency, ...overrides.idempotency },
    serverTimeouts: { ...base.serverTimeouts, ...overrides.serverTimeouts },
  };
}

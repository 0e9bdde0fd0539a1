import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Log } from '../log/Log.js';
import type { CircuitBreaker } from './CircuitBreaker.js';
import type { DiskSpool } from './DiskSpool.js';
import type { IdempotencyStore } from './IdempotencyStore.js';
import type { IngestCore } from './IngestCore.js';
import type { IngressConfig } from './IngressConfig.js';
import type { IngressMetrics } from './IngressMetrics.js';
import type { InFlightBudget } from './InFlightBudget.js';
import type { IntakeAdmission } from './IntakeAdmission.js';
import type { LandingWriter } from './LandingWriter.js';
import type { RateLimiter } from './RateLimiter.js';
import type { SchemaCatalog } from './SchemaCatalog.js';

/** The ingress's parts, reachable as app.ingress for the app, operators' tools and tests. */
export interface IngressRuntime {
  config: IngressConfig;
  log: Log;
  registry: Registry;
  catalog: SchemaCatalog;
  core: IngestCore;
  writer: LandingWriter;
  spool: DiskSpool;
  breaker: CircuitBreaker;
  metrics: IngressMetrics;
  budget: InFlightBudget;
  /** Refuses ingest requests before they are read while the ingress is over its limits. */
  admission: IntakeAdmission;
  idempotency: IdempotencyStore;
  limiter: RateLimiter;
  redis?: Redis;
}

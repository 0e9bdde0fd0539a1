import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { registerBodyDecoding } from '../BodyDecoding.js';
import { type HttpError, toHttpError, HttpError as HttpErrorClass } from '../HttpError.js';
import type { IngestCore } from '../IngestCore.js';
import type { IngressConfig } from '../IngressConfig.js';
import type { IngressMetrics, RouteMetrics } from '../IngressMetrics.js';
import type { InFlightBudget } from '../InFlightBudget.js';
import type { IntakeAdmission } from '../IntakeAdmission.js';
import type { SchemaCatalog } from '../SchemaCatalog.js';
import { UNKNOWN_LENGTH_RESERVATION } from '../StreamedBodyBudget.js';

/** What every seed adapter plugin gets. */
export interface IngestDeps {
  core: IngestCore;
  catalog: SchemaCatalog;
  config: IngressConfig;
  metrics: IngressMetrics;
  budget: InFlightBudget;
  /** Every POST route of an ingest scope is claimed: admitted or refused before fastify reads it. */
  admission: IntakeAdmission;
  /** Source write keys (INGEST_API_KEYS): checked first, before any budget or body work. */
  keyHook?: onRequestHookHandler;
}

const RESERVED = Symbol('ingressReservedBytes');
type WithReservation = FastifyRequest & { [RESERVED]?: number };

/**
 * Shared plumbing of an ingest plugin scope: gzip/NDJSON bodies, the in-flight byte budget,
 * the latency histogram, and errors rendered in the adapter's own body shape.
 */
export function prepareIngestScope(
  scope: FastifyInstance,
  deps: IngestDeps,
  route: RouteMetrics,
  render: (error: HttpError) => unknown,
): void {
  const { budget, config } = deps;
  scope.addHook('onRoute', (options) => deps.admission.claim(options.method, options.url, route, render));
  registerBodyDecoding(scope);
  if (deps.keyHook) scope.addHook('onRequest', deps.keyHook);

  // Callback-style hooks: no promise per request on the hot path.
  scope.addHook('onRequest', (request: WithReservation, _reply, done) => {
    const declared = Number(request.headers['content-length']);
    const bytes = declared > 0 ? declared : UNKNOWN_LENGTH_RESERVATION;
    if (!budget.tryReserve(bytes)) {
      done(new HttpErrorClass(503, 'ingress is overloaded; retry later', 'overloaded', [], config.retryAfterSeconds));
      return;
    }
    request[RESERVED] = bytes;
    done();
  });

  const release = (request: WithReservation) => {
    const bytes = request[RESERVED];
    if (bytes) {
      request[RESERVED] = 0;
      budget.release(bytes);
    }
  };
  const durations = new Map<number, ReturnType<RouteMetrics['duration']>>();
  scope.addHook('onResponse', (request: WithReservation, reply: FastifyReply, done) => {
    release(request);
    let histogram = durations.get(reply.statusCode);
    if (!histogram) {
      histogram = route.duration(reply.statusCode);
      durations.set(reply.statusCode, histogram);
    }
    const ms = reply.elapsedTime;
    histogram.observe(ms / 1000);
    deps.metrics.stats.latency(ms);
    deps.metrics.totals.requests++;
    done();
  });
  scope.addHook('onRequestAbort', (request: WithReservation, done) => {
    release(request);
    done();
  });

  scope.setErrorHandler((error, _request, reply) => {
    const http = toHttpError(error);
    // A refusal with Retry-After (memory budget, topology backlog, full spool) is the service
    // protecting itself, counted in its own metrics: a stack per refused request would flood the log.
    if (http.statusCode >= 500 && http.retryAfterSeconds === undefined) reply.log.error({ err: error }, 'ingest request failed');
    else if (http.statusCode >= 500) reply.log.debug({ reason: http.reason, retryAfterSeconds: http.retryAfterSeconds }, 'ingest request refused');
    if (!http.counted) {
      route.rejected(http.reason).inc();
      deps.metrics.totals.rejected++;
    }
    if (http.retryAfterSeconds !== undefined) reply.header('Retry-After', String(http.retryAfterSeconds));
    reply.code(http.statusCode).send(render(http));
  });
}

/** Milliseconds since the request arrived, rounded for the seeds' processing_time_ms fields. */
export function elapsedMs(reply: FastifyReply): number {
  return Math.round(reply.elapsedTime * 100) / 100;
}

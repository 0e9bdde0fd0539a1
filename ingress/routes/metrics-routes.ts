import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { IngressRuntime } from '../IngressRuntime.js';

/** Seed 004's analytics query, implemented outside the ingress and injected. */
export type AnalyticsQuery = (query: Record<string, string>) => Promise<{ statusCode: number; body: unknown }>;

const ratio = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 10_000) / 10_000 : 0);

/**
 * GET /metrics is claimed by three seeds:
 *   - with event_name: seed 004's analytics JSON (delegated to the injected query);
 *   - with format=json: seed 000's JSON performance metrics;
 *   - otherwise: Prometheus text of the whole registry.
 * Plus seed 001's GET /api/v1/metrics and seed 003's GET /metrics/publisher,
 * /metrics/publisher/health and /metrics/prometheus.
 */
export const metricsRoutes: FastifyPluginAsync<{ runtime: IngressRuntime; analytics?: AnalyticsQuery }> = async (
  scope: FastifyInstance,
  { runtime, analytics },
) => {
  const { registry, metrics, breaker, spool } = runtime;

  const prometheus = async (_request: unknown, reply: import('fastify').FastifyReply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  };

  const published = () => metrics.totals.accepted - metrics.totals.spooledAccepted + metrics.totals.drained;

  scope.get<{ Querystring: Record<string, string> }>('/metrics', async (request, reply) => {
    const query = request.query ?? {};
    if (query.event_name !== undefined) {
      if (!analytics) {
        reply.code(503);
        return { error: 'analytics query is not configured: GET /metrics?event_name=... needs the analytics store (seed 004)' };
      }
      const result = await analytics(query);
      reply.code(result.statusCode);
      return result.body;
    }
    if (query.format === 'json') {
      const { totals } = metrics;
      const latency = metrics.stats.latencySummary();
      return {
        events_processed: totals.accepted,
        events_received: totals.received,
        events_rejected: totals.rejected,
        events_duplicate: totals.duplicates,
        events_per_second: Math.round(metrics.stats.perSecond() * 10) / 10,
        average_latency_ms: latency.avg,
        p99_latency_ms: latency.p99,
        error_rate: ratio(totals.rejected, totals.received),
        kafka_lag: null,
        circuit_breaker_state: breaker.state,
        buffered_events: spool.records,
        uptime_seconds: Math.round((Date.now() - metrics.startedAt) / 1000),
      };
    }
    return prometheus(request, reply);
  });

  scope.get('/metrics/prometheus', prometheus);

  scope.get('/api/v1/metrics', async () => {
    const { totals } = metrics;
    const latency = metrics.stats.latencySummary();
    return {
      events_processed_total: totals.accepted,
      events_per_second: Math.round(metrics.stats.perSecond() * 10) / 10,
      kafka_writes_total: totals.logWrites,
      dlq_events_total: totals.dlq,
      buffer_events_count: spool.records,
      avg_processing_time_ms: latency.avg,
      p99_processing_time_ms: latency.p99,
      duplicate_events_total: totals.duplicates,
      rejected_events_total: totals.rejected,
    };
  });

  const publisherMetrics = () => {
    const { totals } = metrics;
    const attempts = published() + totals.produceErrors;
    return {
      events_published: published(),
      events_failed: totals.produceErrors,
      events_retried: totals.drained,
      events_dlq: totals.dlq,
      events_buffered: spool.records,
      success_rate: attempts > 0 ? ratio(published(), attempts) : 1,
      error_rate: ratio(totals.produceErrors, attempts),
      dlq_rate: ratio(totals.dlq, totals.received),
      average_latency_ms: metrics.stats.latencySummary().avg,
      last_publish_time: metrics.lastAcceptedAt ? new Date(metrics.lastAcceptedAt).toISOString() : null,
      circuit_breaker_state: breaker.state,
    };
  };

  scope.get('/metrics/publisher', async () => publisherMetrics());

  scope.get('/metrics/publisher/health', async (_request, reply) => {
    const m = publisherMetrics();
    const check = (ok: boolean, message: string, warn = false) => ({ status: ok ? 'healthy' : warn ? 'degraded' : 'unhealthy', message });
    const recent = metrics.lastAcceptedAt !== null && Date.now() - metrics.lastAcceptedAt < 5 * 60_000;
    const checks = {
      recent_activity: check(recent || metrics.totals.received === 0, recent ? 'events published in the last 5 minutes' : 'no events published in the last 5 minutes', true),
      error_rate: check(m.error_rate < 0.05, `error rate ${m.error_rate}`, m.error_rate < 0.5),
      dlq_rate: check(m.dlq_rate < 0.05, `DLQ rate ${m.dlq_rate}`, true),
      circuit_breaker: check(breaker.state === 'closed', `circuit breaker ${breaker.state}`, spool.bytes < spool.maxBytes),
    };
    const states = Object.values(checks).map((c) => c.status);
    const status = states.includes('unhealthy') ? 'unhealthy' : states.includes('degraded') ? 'degraded' : 'healthy';
    if (status === 'unhealthy') reply.code(503);
    return { status, checks, metrics: m, timestamp: new Date().toISOString() };
  });
};

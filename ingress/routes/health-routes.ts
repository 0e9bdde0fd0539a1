import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { IngressRuntime } from '../IngressRuntime.js';

export interface ReadinessCheck {
  name: string;
  check(): Promise<boolean>;
}

/** Resolves false instead of hanging when a dependency does not answer. */
async function withTimeout(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      check().catch(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const MB = 1024 * 1024;

/**
 * GET /health (seeds 000 and 004: liveness, uptime, components; always 200 while the process
 * serves), GET /ready (seed 004: 503 with details unless every check passes),
 * GET /api/v1/health (seed 001's shape).
 */
export const healthRoutes: FastifyPluginAsync<{ runtime: IngressRuntime; readinessChecks: ReadinessCheck[] }> = async (
  scope: FastifyInstance,
  { runtime, readinessChecks },
) => {
  const { log, spool, breaker, metrics, redis } = runtime;
  const uptimeSeconds = () => Math.round((Date.now() - metrics.startedAt) / 1000);

  scope.get('/health', async () => {
    const logUp = await withTimeout(() => log.isHealthy(), 1000);
    const spoolFull = spool.bytes >= spool.maxBytes * 0.99;
    return {
      status: logUp && !spoolFull ? 'healthy' : 'degraded',
      uptime_seconds: uptimeSeconds(),
      timestamp: new Date().toISOString(),
      dependencies: { [log.kind === 'kafka' ? 'kafka' : 'log']: logUp ? 'healthy' : 'unhealthy', ...(redis ? { redis: redis.status === 'ready' ? 'healthy' : 'unhealthy' } : {}) },
      components: {
        log: { status: logUp ? 'up' : 'down', kind: log.kind },
        circuit_breaker: { state: breaker.state },
        spool: { status: spoolFull ? 'full' : 'ok', bytes: spool.bytes, records: spool.records, max_bytes: spool.maxBytes },
        rate_limiter: { backend: redis ? 'redis' : 'memory' },
        idempotency: { backend: redis ? 'redis' : 'memory' },
      },
    };
  });

  scope.get('/ready', async (_request, reply) => {
    const checks: ReadinessCheck[] = [
      { name: 'log', check: () => log.isHealthy() },
      { name: 'spool', check: async () => spool.bytes < spool.maxBytes },
      ...(redis ? [{ name: 'redis', check: async () => (await redis.ping()) === 'PONG' }] : []),
      ...readinessChecks,
    ];
    const results = await Promise.all(checks.map((c) => withTimeout(() => c.check(), 2000)));
    const status: Record<string, 'ok' | 'failed'> = {};
    checks.forEach((c, i) => (status[c.name] = results[i] ? 'ok' : 'failed'));
    const failed = checks.filter((_, i) => !results[i]).map((c) => c.name);
    if (failed.length === 0) return { status: 'ready', checks: status };
    reply.code(503);
    return { status: 'not_ready', error: `not ready: ${failed.join(', ')} failed`, checks: status };
  });

  scope.get('/api/v1/health', async (_request, reply) => {
    const logUp = await withTimeout(() => log.isHealthy(), 1000);
    const spoolFull = spool.bytes >= spool.maxBytes;
    const status = spoolFull ? 'unhealthy' : logUp && spool.entries === 0 ? 'healthy' : 'degraded';
    if (spoolFull) reply.code(503);
    const latency = metrics.stats.latencySummary();
    return {
      status,
      kafka_connected: logUp,
      buffer_status: {
        buffered_batches: spool.entries,
        buffered_events: spool.records,
        buffer_size_mb: Math.round((spool.bytes / MB) * 1000) / 1000,
        max_buffer_size_mb: Math.round(spool.maxBytes / MB),
      },
      throughput_metrics: {
        events_per_second: Math.round(metrics.stats.perSecond() * 10) / 10,
        avg_processing_time_ms: latency.avg,
      },
      uptime_seconds: uptimeSeconds(),
    };
  });
};

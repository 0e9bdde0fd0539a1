import { statfs } from 'node:fs/promises';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { IngressRuntime } from '../IngressRuntime.js';

export interface ReadinessCheck {
  name: string;
  check(): Promise<boolean>;
  /** While the check fails: what it waits for, in words (GET /ready lists it under waiting_for). */
  waitingFor?(): string | undefined;
}

/** Readiness checks that are external dependencies: /health reports them under dependencies. */
const DEPENDENCY_CHECKS = new Set(['clickhouse']);

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

/** Below this much free space (or 2% of the filesystem, whichever is larger) /health says the disk is low. */
const LOW_DISK_BYTES = 256 * MB;

/**
 * Free space of the filesystem holding the spool (under DATA_DIR by default, with the log, state
 * and chDB): the first thing to run out on a small VM or a pod with an ephemeral-storage limit.
 */
async function diskSpace(dir: string): Promise<{ status: 'ok' | 'low' | 'unknown'; path: string; free_bytes?: number; total_bytes?: number }> {
  try {
    const stats = await statfs(dir);
    const free = stats.bavail * stats.bsize;
    const total = stats.blocks * stats.bsize;
    return { status: free < Math.max(LOW_DISK_BYTES, total * 0.02) ? 'low' : 'ok', path: dir, free_bytes: free, total_bytes: total };
  } catch {
    return { status: 'unknown', path: dir };
  }
}

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

  /**
   * /health stays 200 while the process serves (liveness); its status is "degraded" as soon as a
   * configured dependency (Kafka or the embedded log, Redis, ClickHouse) or a component fails.
   */
  scope.get('/health', async () => {
    const disk = diskSpace(runtime.config.spool.dir);
    const [logUp, ...checked] = await Promise.all([withTimeout(() => log.isHealthy(), 1000), ...readinessChecks.map((c) => withTimeout(() => c.check(), 1000))]);
    const redisUp = redis ? redis.status === 'ready' : true;
    const spoolFull = spool.bytes >= spool.maxBytes * 0.99;
    const dependencies: Record<string, 'healthy' | 'unhealthy'> = { [log.kind === 'kafka' ? 'kafka' : 'log']: logUp ? 'healthy' : 'unhealthy' };
    if (redis) dependencies.redis = redisUp ? 'healthy' : 'unhealthy';
    const extraComponents: Record<string, { status: 'up' | 'down'; waiting_for?: string }> = {};
    readinessChecks.forEach((c, i) => {
      if (DEPENDENCY_CHECKS.has(c.name)) dependencies[c.name] = checked[i] ? 'healthy' : 'unhealthy';
      else {
        const waitingFor = checked[i] ? undefined : c.waitingFor?.();
        extraComponents[c.name] = { status: checked[i] ? 'up' : 'down', ...(waitingFor ? { waiting_for: waitingFor } : {}) };
      }
    });
    const diskNow = await disk;
    const allUp = logUp && redisUp && !spoolFull && diskNow.status !== 'low' && checked.every(Boolean);
    return {
      status: allUp ? 'healthy' : 'degraded',
      uptime_seconds: uptimeSeconds(),
      timestamp: new Date().toISOString(),
      dependencies,
      components: {
        log: { status: logUp ? 'up' : 'down', kind: log.kind },
        circuit_breaker: { state: breaker.state },
        spool: { status: spoolFull ? 'full' : 'ok', bytes: spool.bytes, records: spool.records, max_bytes: spool.maxBytes },
        disk: diskNow,
        rate_limiter: { backend: redis ? 'redis' : 'memory' },
        idempotency: { backend: redis ? 'redis' : 'memory' },
        ...extraComponents,
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
    const failed = checks.filter((_, i) => !results[i]);
    if (failed.length === 0) return { status: 'ready', checks: status };
    reply.code(503);
    const waitingFor = [...new Set(failed.map((c) => c.waitingFor?.()).filter((w): w is string => !!w))];
    return {
      status: 'not_ready',
      error: `not ready: ${failed.map((c) => c.name).join(', ')} failed`,
      checks: status,
      ...(waitingFor.length > 0 ? { waiting_for: waitingFor } : {}),
    };
  });

  scope.get('/api/v1/health', async (_request, reply) => {
    const logUp = await withTimeout(() => log.isHealthy(), 1000);
    const spoolFull = spool.bytes >= spool.maxBytes;
    const redisUp = redis ? redis.status === 'ready' : true;
    const status = spoolFull ? 'unhealthy' : logUp && redisUp && spool.entries === 0 ? 'healthy' : 'degraded';
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

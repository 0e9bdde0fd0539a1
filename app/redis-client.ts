import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';

/** While Redis stays unreachable, how often its connection error is logged again. */
const REPEAT_WARNING_MS = 30_000;

/**
 * The ingress's Redis (REDIS_URL: shared rate limits and idempotency keys), opened by the app so
 * its errors are reported at a human rate. ioredis reconnects on its own and emits 'error' on
 * every failed attempt (several a second while Redis is down); each is counted
 * (streamline_redis_connection_errors_total) but logged once, then once per 30 s with how many
 * were left out, and a line when Redis answers again. Meanwhile the ingress fails open (memory
 * limits), /health says degraded and /ready fails on "redis".
 */
export function openIngressRedis(url: string, logger: Logger, registry: Registry): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: false });
  const errors = new Counter({
    name: 'streamline_redis_connection_errors_total',
    help: 'Redis connection errors (reconnects are automatic; the ingress fails open meanwhile)',
    registers: [registry],
  });
  let failing = false;
  let lastWarnedAt = 0;
  let suppressed = 0;
  redis.on('error', (error: Error) => {
    errors.inc();
    const now = Date.now();
    if (failing && now - lastWarnedAt < REPEAT_WARNING_MS) {
      suppressed++;
      return;
    }
    logger.warn(
      { err: error.message, url: redactedUrl(url), ...(suppressed > 0 ? { repeatedSinceLastWarning: suppressed } : {}) },
      failing
        ? 'Redis still unreachable (rate limits and idempotency fall back to memory)'
        : 'Redis unreachable: rate limits and idempotency fall back to memory until it answers; start Redis or unset REDIS_URL',
    );
    failing = true;
    lastWarnedAt = now;
    suppressed = 0;
  });
  redis.on('ready', () => {
    if (!failing) return;
    failing = false;
    suppressed = 0;
    logger.info({ url: redactedUrl(url) }, 'Redis reachable again');
  });
  return redis;
}

/** The URL without its password, for logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { ConfigError, readFileSetting, readOptionalString, type Env } from '../config/index.js';

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
export function openIngressRedis(url: string, logger: Logger, registry: Registry, env: Env = process.env): Redis {
  const tls = readRedisTls(env, url);
  const redis = new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: false, ...(tls ? { tls } : {}) });
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
    const refused = explainRedisRefusal(error);
    logger.warn(
      { err: error.message, url: redactedUrl(url), ...(suppressed > 0 ? { repeatedSinceLastWarning: suppressed } : {}) },
      refused
        ? `${refused} (rate limits and idempotency fall back to memory meanwhile)`
        : failing
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

/**
 * TLS for a rediss:// REDIS_URL (credentials ride in the URL: redis://[user]:password@host, or
 * the seed's REDIS_PASSWORD through app/SeedEnv.ts):
 *   REDIS_TLS_CA_FILE     PEM of the CA that signed the server's certificate (default: Node's bundled CAs)
 *   REDIS_TLS_CERT_FILE / REDIS_TLS_KEY_FILE   client certificate and key, for a server with
 *                         tls-auth-clients yes (Redis's default); both or neither
 * The server's certificate is always verified, host name included. A REDIS_TLS_* setting next to
 * a plain redis:// URL is refused (it would be ignored). Undefined for redis:// without them.
 */
export function readRedisTls(env: Env, url: string): TlsConnectionOptions | undefined {
  const names = ['REDIS_TLS_CA_FILE', 'REDIS_TLS_CERT_FILE', 'REDIS_TLS_KEY_FILE'];
  const tls = /^rediss:\/\//i.test(url);
  if (!tls) {
    const set = names.find((name) => readOptionalString(env, name) !== undefined);
    if (set) throw new ConfigError(`${set} is set but REDIS_URL is not a rediss:// URL (TLS): use rediss://host:port`);
    return undefined;
  }
  const ca = readFileSetting(env, 'REDIS_TLS_CA_FILE');
  const cert = readFileSetting(env, 'REDIS_TLS_CERT_FILE');
  const key = readFileSetting(env, 'REDIS_TLS_KEY_FILE');
  if ((cert === undefined) !== (key === undefined)) throw new ConfigError('REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together (a client certificate needs its key)');
  if (ca && !ca.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError('REDIS_TLS_CA_FILE holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  return { rejectUnauthorized: true, ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}) };
}

const CERTIFICATE_CODES = /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID|self[- ]signed certificate|unable to verify the first certificate|unable to get local issuer certificate/i;

/**
 * What to tell the operator when Redis answered but refused us (a retry will not help): wrong or
 * missing credentials, or a server certificate the CA does not vouch for. Undefined otherwise.
 */
export function explainRedisRefusal(error: Error): string | undefined {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (/WRONGPASS|invalid username-password|NOAUTH|Authentication required|NOPERM/i.test(error.message)) {
    return 'Redis refused the credentials of REDIS_URL (redis://user:password@host, or REDIS_PASSWORD): check the user and password';
  }
  if (CERTIFICATE_CODES.test(`${code} ${error.message}`)) {
    return `Redis presented a TLS certificate this process does not trust (${code || error.message}): check REDIS_TLS_CA_FILE and that the certificate names the host of REDIS_URL`;
  }
  return undefined;
}

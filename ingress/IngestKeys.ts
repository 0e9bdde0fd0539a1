import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { checkSecret, ConfigError, type Env, readFileSetting, readInteger, readOptionalString } from '../config/index.js';
import { HttpError } from './HttpError.js';
import type { IngressMetrics, RejectReason } from './IngressMetrics.js';
import { type BucketSpec, MemoryRateLimiter, type RateLimiter } from './RateLimiter.js';
import { presentedCredentials, secretDigest } from './RequestCredentials.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Name of the source write key the request presented (INGEST_API_KEYS); null when keys are not configured. */
    ingestKeyName: string | null;
  }
}

export interface IngestKeysConfig {
  /** name → key */
  keys: Map<string, string>;
  /** Per-key token bucket; 0 turns it off. */
  requestsPerMinute: number;
  burst: number;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function parseEntries(text: string, origin: string, separator: RegExp): Map<string, string> {
  const keys = new Map<string, string>();
  const seen = new Set<string>();
  for (const raw of text.split(separator)) {
    const entry = raw.trim();
    if (entry === '' || entry.startsWith('#')) continue;
    const colon = entry.indexOf(':');
    const name = colon > 0 ? entry.slice(0, colon).trim() : '';
    const key = colon > 0 ? entry.slice(colon + 1).trim() : '';
    if (!NAME.test(name) || key === '') throw new ConfigError(`${origin}: "${name || entry.slice(0, 20)}…" is not name:key (name: letters, digits, _ . -; up to 64)`);
    checkSecret(`${origin} key "${name}"`, key);
    if (keys.has(name)) throw new ConfigError(`${origin}: the name "${name}" is given twice`);
    if (seen.has(key)) throw new ConfigError(`${origin}: the key of "${name}" is also another name's key`);
    keys.set(name, key);
    seen.add(key);
  }
  return keys;
}

/**
 * Source write keys, as Segment and RudderStack give each source one: INGEST_API_KEYS
 * (`web:key1,ios:key2`) or INGEST_API_KEYS_FILE (one `name:key` a line, # comments, so keys
 * stay out of the environment). Undefined when neither is set: ingestion is open.
 */
export function readIngestKeys(env: Env): IngestKeysConfig | undefined {
  const inline = readOptionalString(env, 'INGEST_API_KEYS');
  const file = readOptionalString(env, 'INGEST_API_KEYS_FILE');
  if (inline && file) throw new ConfigError('INGEST_API_KEYS and INGEST_API_KEYS_FILE are both set: use one');
  let keys: Map<string, string> | undefined;
  if (inline) keys = parseEntries(inline, 'INGEST_API_KEYS', /,/);
  if (file) keys = parseEntries(readFileSetting(env, 'INGEST_API_KEYS_FILE')!.toString('utf8'), `INGEST_API_KEYS_FILE ${file}`, /\r?\n/);
  if (!keys) return undefined;
  if (keys.size === 0) throw new ConfigError(`${inline ? 'INGEST_API_KEYS' : `INGEST_API_KEYS_FILE ${file}`} names no key`);
  const requestsPerMinute = readInteger(env, 'INGEST_KEY_RATE_LIMIT_PER_MINUTE', 0, 0);
  return { keys, requestsPerMinute, burst: readInteger(env, 'INGEST_KEY_RATE_LIMIT_BURST', Math.max(1, Math.ceil(requestsPerMinute / 60)), 1) };
}

// HttpError's reasons are the ingress's metric labels; 'unauthorized' is rendered in the collector's
// body ({"error": "unauthorized"}) and counted like the others.
const UNAUTHORIZED: RejectReason = 'unauthorized';
const CHALLENGE = 'Bearer realm="streamline-ingest", Basic realm="streamline-ingest"';

/** The keys by digest: a lookup hashes the presented secret first, so its time says nothing about the keys. */
export class IngestKeyring {
  private readonly byDigest = new Map<string, string>();

  constructor(readonly config: IngestKeysConfig) {
    for (const [name, key] of config.keys) this.byDigest.set(secretDigest(key).toString('hex'), name);
  }

  /** Name of the key the request presents (X-API-Key, Bearer, or basic auth with the key as user); undefined when none matches. */
  nameOf(request: FastifyRequest): { name?: string; presented: boolean } {
    const credentials = presentedCredentials(request.headers);
    const candidates = [credentials.apiKey, credentials.bearer, credentials.basic?.user || credentials.basic?.password];
    let presented = false;
    for (const candidate of candidates) {
      if (!candidate) continue;
      presented = true;
      const name = this.byDigest.get(secretDigest(candidate).toString('hex'));
      if (name !== undefined) return { name, presented };
    }
    return { presented };
  }

  /**
   * onRequest hook of the ingest scopes: 401 (before any body is read or budget reserved)
   * without a valid key, then the key's own token bucket when INGEST_KEY_RATE_LIMIT_PER_MINUTE is set.
   */
  hook(limiter: RateLimiter, metrics: IngressMetrics) {
    const { requestsPerMinute, burst } = this.config;
    const refuse = (waitMs: number) => {
      metrics.rateLimited.labels('key').inc();
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      return new HttpError(429, `rate limit of this ingest key exceeded; retry after ${seconds} s`, 'rate_limited', [], seconds);
    };
    return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
      const { name, presented } = this.nameOf(request);
      if (name === undefined) {
        reply.header('www-authenticate', CHALLENGE);
        const message = presented
          ? 'the ingest key is not valid'
          : 'an ingest key is required: Authorization: Bearer <key>, X-API-Key: <key>, or basic auth with the key as user';
        done(new HttpError(401, message, UNAUTHORIZED));
        return;
      }
      request.ingestKeyName = name;
      if (requestsPerMinute === 0) return done();
      const buckets: BucketSpec[] = [{ key: 'key:' + name, perMinute: requestsPerMinute, burst }];
      if (limiter instanceof MemoryRateLimiter) {
        const waitMs = limiter.takeNow(buckets, Date.now());
        done(waitMs > 0 ? refuse(waitMs) : undefined);
        return;
      }
      limiter.take(buckets).then(
        (waitMs) => done(waitMs > 0 ? refuse(waitMs) : undefined),
        // Fail open as the per-user limit does: a broken Redis must not stop ingestion.
        () => done(),
      );
    };
  }
}

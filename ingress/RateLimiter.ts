import type { Redis } from 'ioredis';

/** One token bucket to take a token from: the key names the client (ip:..., user:...). */
export interface BucketSpec {
  key: string;
  perMinute: number;
  burst: number;
}

/**
 * Token buckets per user and per client IP. take() is all-or-nothing across the buckets it is
 * given: a request refused by one bucket consumes from none.
 */
export interface RateLimiter {
  /** 0 when allowed; otherwise milliseconds until a token is available in every bucket. */
  take(buckets: BucketSpec[]): Promise<number>;
  close(): Promise<void>;
}

interface Bucket {
  tokens: number;
  at: number;
  /** Idle time after which the bucket is full again and can be forgotten. */
  refillMs: number;
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly timer: NodeJS.Timeout;

  constructor(cleanupIntervalMs: number) {
    // Buckets idle long enough to be full again carry no information: drop them.
    this.timer = setInterval(() => this.cleanup(), Math.max(1000, cleanupIntervalMs));
    this.timer.unref();
  }

  get size(): number {
    return this.buckets.size;
  }

  async take(specs: BucketSpec[]): Promise<number> {
    return this.takeNow(specs, Date.now());
  }

  takeNow(specs: BucketSpec[], now: number): number {
    let waitMs = 0;
    for (const spec of specs) {
      const bucket = this.refilled(spec, now);
      if (bucket.tokens < 1) {
        const wait = Math.ceil(((1 - bucket.tokens) * 60_000) / spec.perMinute);
        if (wait > waitMs) waitMs = wait;
      }
    }
    if (waitMs > 0) return waitMs;
    for (const spec of specs) this.buckets.get(spec.key)!.tokens -= 1;
    return 0;
  }

  private refilled(spec: BucketSpec, now: number): Bucket {
    let bucket = this.buckets.get(spec.key);
    if (!bucket) {
      bucket = { tokens: spec.burst, at: now, refillMs: Math.ceil((spec.burst * 60_000) / spec.perMinute) };
      this.buckets.set(spec.key, bucket);
      return bucket;
    }
    if (now > bucket.at) {
      bucket.tokens = Math.min(spec.burst, bucket.tokens + ((now - bucket.at) * spec.perMinute) / 60_000);
      bucket.at = now;
    }
    return bucket;
  }

  cleanup(now = Date.now()): void {
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.at >= bucket.refillMs) this.buckets.delete(key);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.buckets.clear();
  }
}

/**
 * All buckets of a request checked and consumed in one atomic script, on Redis's clock (TIME)
 * so replicas with skewed clocks agree. ARGV holds perMinute and burst for each key in order.
 * Returns 0 when allowed, otherwise the wait in milliseconds.
 */
const TOKEN_BUCKET_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tokens = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local perMinute = tonumber(ARGV[i * 2 - 1])
  local burst = tonumber(ARGV[i * 2])
  local state = redis.call('HMGET', key, 't', 'u')
  local tk = tonumber(state[1])
  local at = tonumber(state[2])
  if tk == nil or at == nil then
    tk = burst
  elseif now > at then
    tk = math.min(burst, tk + (now - at) * perMinute / 60000)
  end
  tokens[i] = tk
  if tk < 1 then
    local w = math.ceil((1 - tk) * 60000 / perMinute)
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local perMinute = tonumber(ARGV[i * 2 - 1])
  local burst = tonumber(ARGV[i * 2])
  redis.call('HSET', key, 't', tostring(tokens[i] - 1), 'u', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(burst * 60000 / perMinute) + 1000)
end
return 0
`;

type RedisWithBucket = Redis & {
  streamlineTokenBucket(numKeys: number, ...args: Array<string | number>): Promise<number>;
};

export class RedisRateLimiter implements RateLimiter {
  private readonly redis: RedisWithBucket;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    // defineCommand sends EVALSHA and falls back to EVAL once per connection.
    if (!(redis as unknown as Partial<RedisWithBucket>).streamlineTokenBucket) {
      redis.defineCommand('streamlineTokenBucket', { lua: TOKEN_BUCKET_LUA });
    }
    this.redis = redis as unknown as RedisWithBucket;
  }

  async take(specs: BucketSpec[]): Promise<number> {
    if (specs.length === 0) return 0;
    const args: Array<string | number> = [];
    for (const spec of specs) args.push(this.prefix + spec.key);
    for (const spec of specs) args.push(spec.perMinute, spec.burst);
    return Number(await this.redis.streamlineTokenBucket(specs.length, ...args));
  }

  async close(): Promise<void> {
    // The Redis client belongs to whoever passed it in.
  }
}

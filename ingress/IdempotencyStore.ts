import type { Redis } from 'ioredis';

/**
 * The ingress's fast path against client retries: an id seen inside its window is answered as a
 * duplicate and not written again. The topology's dedupe stays the authority; this only keeps
 * most duplicates off the log.
 *
 * Ids are claimed before the write and released when the write fails, so a client retrying
 * after a 503 is not told "duplicate" for an event that was never stored.
 */
export interface IdempotencyStore {
  /** For each key, true when this call claimed it (first sighting), false when it is a duplicate. */
  claim(keys: string[], ttlsMs: number[]): Promise<boolean[]>;
  /** Forgets keys claimed by a write that then failed. */
  release(keys: string[]): Promise<void>;
  close(): Promise<void>;
}

/** LRU + TTL in process memory; a Map keeps insertion order, so its head is the oldest claim. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly expiries = new Map<string, number>();

  constructor(private readonly maxKeys: number) {}

  get size(): number {
    return this.expiries.size;
  }

  async claim(keys: string[], ttlsMs: number[]): Promise<boolean[]> {
    const now = Date.now();
    const out = new Array<boolean>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const expiry = this.expiries.get(key);
      if (expiry !== undefined && expiry > now) {
        out[i] = false;
        continue;
      }
      if (expiry !== undefined) this.expiries.delete(key);
      this.expiries.set(key, now + ttlsMs[i]!);
      out[i] = true;
    }
    this.evict(now);
    return out;
  }

  async release(keys: string[]): Promise<void> {
    for (const key of keys) this.expiries.delete(key);
  }

  async close(): Promise<void> {
    this.expiries.clear();
  }

  private evict(now: number): void {
    // Over capacity: drop the oldest claims. Then drop a few expired ones from the head so an
    // idle process does not keep a full map forever.
    let excess = this.expiries.size - this.maxKeys;
    let expiredBudget = 8;
    for (const [key, expiry] of this.expiries) {
      if (excess > 0) {
        this.expiries.delete(key);
        excess--;
      } else if (expiredBudget > 0 && expiry <= now) {
        this.expiries.delete(key);
        expiredBudget--;
      } else {
        break;
      }
    }
  }
}

/** SET NX PX in Redis, so several ingress replicas agree on what they have seen. One round trip per call. */
export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async claim(keys: string[], ttlsMs: number[]): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (let i = 0; i < keys.length; i++) pipeline.set(this.prefix + keys[i], '1', 'PX', ttlsMs[i]!, 'NX');
    const results = await pipeline.exec();
    if (!results) throw new Error('redis pipeline was aborted');
    return results.map(([error, reply]) => {
      if (error) throw error;
      return reply === 'OK';
    });
  }

  async release(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.redis.del(...keys.map((key) => this.prefix + key));
  }

  async close(): Promise<void> {
    // The Redis client belongs to whoever passed it in.
  }
}

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

/**
 * TTL-bounded id set in process memory, capped at about maxKeys ids. Two generations of Maps
 * (id → expiry): claims go into the young one; when it reaches maxKeys / 2 the old one is
 * dropped whole and the young one becomes old. That evicts the least recently claimed ids in
 * bulk, which is far cheaper than deleting map entries one by one at 300k ids/s.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private young = new Map<string, number>();
  private old = new Map<string, number>();
  private readonly generationSize: number;

  constructor(maxKeys: number) {
    this.generationSize = Math.max(1, Math.ceil(maxKeys / 2));
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  async claim(keys: string[], ttlsMs: number[]): Promise<boolean[]> {
    return this.claimNow(keys, ttlsMs, Date.now());
  }

  claimNow(keys: string[], ttlsMs: number[], now: number): boolean[] {
    const out = new Array<boolean>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const expiry = this.young.get(key) ?? this.old.get(key);
      if (expiry !== undefined && expiry > now) {
        out[i] = false;
        continue;
      }
      if (this.young.size >= this.generationSize) {
        this.old = this.young;
        this.young = new Map();
      }
      this.young.set(key, now + ttlsMs[i]!);
      out[i] = true;
    }
    return out;
  }

  async release(keys: string[]): Promise<void> {
    for (const key of keys) {
      this.young.delete(key);
      this.old.delete(key);
    }
  }

  async close(): Promise<void> {
    this.young.clear();
    this.old.clear();
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

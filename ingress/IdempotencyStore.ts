import type { Redis } from 'ioredis';
import { hashId, IdHashTable, idHash } from './IdHashTable.js';

/**
 * The ingress's fast path against client retries: an id seen inside its window is answered as a
 * duplicate and not written again. The topology's dedupe stays the authority; this only keeps
 * most duplicates off the log.
 *
 * Ids are claimed before the write and released when the write fails, so a client retrying
 * after a 503 is not told "duplicate" for an event that was never stored.
 */
export interface IdempotencyStore {
  /**
   * For each (namespace, id), true when this call claimed it (first sighting), false when it is
   * a duplicate. The namespace is the event kind (schema $id), so windows are per type; the id
   * is already scoped by user and ingest key (IngestCore's idempotencyId), so one client's ids
   * never suppress another's events.
   */
  claim(namespaces: string[], ids: string[], ttlsMs: number[]): Promise<boolean[]>;
  /** Forgets ids claimed by a write that then failed. */
  release(namespaces: string[], ids: string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * TTL-bounded id sets in process memory, about maxKeys ids per namespace. Two generations of
 * tables (id hash → expiry, IdHashTable): claims go into the young one; when it reaches
 * maxKeys / 2 the old one is cleared whole and the young one becomes old. That evicts the least
 * recently claimed ids in bulk, far cheaper than deleting entries one by one at 300k ids/s.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly spaces = new Map<string, { young: IdHashTable; old: IdHashTable }>();
  private readonly generationSize: number;

  constructor(maxKeys: number) {
    this.generationSize = Math.max(1, Math.ceil(maxKeys / 2));
  }

  get size(): number {
    let size = 0;
    for (const space of this.spaces.values()) size += space.young.size + space.old.size;
    return size;
  }

  async claim(namespaces: string[], ids: string[], ttlsMs: number[]): Promise<boolean[]> {
    return this.claimNow(namespaces, ids, ttlsMs, Date.now());
  }

  claimNow(namespaces: string[], ids: string[], ttlsMs: number[], now: number): boolean[] {
    const out = new Array<boolean>(ids.length);
    let name: string | undefined;
    let space: { young: IdHashTable; old: IdHashTable } | undefined;
    for (let i = 0; i < ids.length; i++) {
      if (namespaces[i] !== name) {
        name = namespaces[i]!;
        space = this.spaces.get(name);
        if (!space) this.spaces.set(name, (space = { young: new IdHashTable(this.generationSize), old: new IdHashTable(this.generationSize) }));
      }
      hashId(ids[i]!);
      const { high, low } = idHash;
      const expiry = space!.young.get(high, low) ?? space!.old.get(high, low);
      if (expiry !== undefined && expiry > now) {
        out[i] = false;
        continue;
      }
      if (space!.young.size >= this.generationSize) {
        const recycled = space!.old;
        recycled.clear();
        space!.old = space!.young;
        space!.young = recycled;
      }
      space!.young.set(high, low, now + ttlsMs[i]!);
      out[i] = true;
    }
    return out;
  }

  async release(namespaces: string[], ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i++) {
      const space = this.spaces.get(namespaces[i]!);
      if (!space) continue;
      hashId(ids[i]!);
      space.young.expire(idHash.high, idHash.low);
      space.old.expire(idHash.high, idHash.low);
    }
  }

  async close(): Promise<void> {
    this.spaces.clear();
  }
}

/** SET NX PX in Redis, so several ingress replicas agree on what they have seen. One round trip per call. */
export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async claim(namespaces: string[], ids: string[], ttlsMs: number[]): Promise<boolean[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (let i = 0; i < ids.length; i++) pipeline.set(this.prefix + namespaces[i] + ':' + ids[i], '1', 'PX', ttlsMs[i]!, 'NX');
    const results = await pipeline.exec();
    if (!results) throw new Error('redis pipeline was aborted');
    return results.map(([error, reply]) => {
      if (error) throw error;
      return reply === 'OK';
    });
  }

  async release(namespaces: string[], ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.redis.del(...ids.map((id, i) => this.prefix + namespaces[i] + ':' + id));
  }

  async close(): Promise<void> {
    // The Redis client belongs to whoever passed it in.
  }
}

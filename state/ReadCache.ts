/** A committed value as the read cache holds it: its bytes (null: known absent) and, once read, the decoded value. */
export interface CachedRead {
  bytes: Buffer | null;
  /** The value deserialized from bytes, kept for the next read (NOT_DECODED until then). */
  decoded: unknown;
}

export const NOT_DECODED = Symbol('not decoded');

/**
 * A bounded cache of committed values read from RocksDB, by changelog key (latin1 id, as in
 * WriteBuffer). A RocksDB point read through the binding costs ~4-5 µs; hot keys (per-user
 * aggregates, join tables) are read far more often than they change, so they come from here,
 * already deserialized (store values are immutable: state/StateStore.ts).
 *
 * It caches what is on disk, absence included (null), and nothing uncommitted: the write
 * buffer is consulted first, flush updates the keys it holds, restore clears it.
 *
 * Approximate LRU in two generations of maxEntries / 2: a hit in the young map costs one
 * Map.get (a strict LRU re-inserted the key on every hit: a delete and a set per read); a hit in
 * the old map moves the key to the young one; when the young map is full it becomes the old one
 * and the previous old one is dropped. A key read at least once per generation stays cached.
 *
 * With a pool (ReadCachePool), a cache that misses more than it hits may borrow entries other
 * caches of the pool leave unused (see rotate()).
 */
export class ReadCache {
  private young = new Map<string, CachedRead>();
  private old = new Map<string, CachedRead>();
  private readonly baseGenerationSize: number;
  private generationSize: number;
  /** Reads answered and not answered since the young generation started. */
  private generationHits = 0;
  private generationMisses = 0;
  private pooled = false;
  hits = 0;
  misses = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly pool?: ReadCachePool,
  ) {
    this.generationSize = this.baseGenerationSize = Math.max(1, Math.floor(maxEntries / 2));
  }

  /** The cached entry, or undefined when not cached. */
  get(id: string): CachedRead | undefined {
    const young = this.young.get(id);
    if (young !== undefined) {
      this.hits++;
      this.generationHits++;
      return young;
    }
    const old = this.old.get(id);
    if (old === undefined) {
      this.misses++;
      this.generationMisses++;
      return undefined;
    }
    this.hits++;
    this.generationHits++;
    this.old.delete(id);
    this.insert(id, old);
    return old;
  }

  /** decoded: the value deserialized from bytes, when the reader has it already. */
  remember(id: string, bytes: Buffer | null, decoded: unknown = NOT_DECODED): void {
    if (this.maxEntries <= 0) return;
    this.old.delete(id);
    this.insert(id, { bytes, decoded: bytes === null ? NOT_DECODED : decoded });
  }

  /** After a flush: keep cached keys equal to what is now on disk. */
  update(id: string, bytes: Buffer | null): void {
    if (this.young.has(id)) this.young.set(id, { bytes, decoded: NOT_DECODED });
    else if (this.old.has(id)) this.old.set(id, { bytes, decoded: NOT_DECODED });
  }

  /** Empties the cache; it gives back what it borrowed from its pool. */
  clear(): void {
    this.young = new Map();
    this.old = new Map();
    this.generationSize = this.baseGenerationSize;
    this.generationHits = this.generationMisses = 0;
    if (this.pooled) this.pool!.leave(this);
    this.pooled = false;
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** Entries it may hold now: maxEntries, or more while it borrows from its pool. */
  get capacity(): number {
    return 2 * this.generationSize;
  }

  private insert(id: string, entry: CachedRead): void {
    if (!this.pooled && this.pool !== undefined) {
      this.pool.join(this);
      this.pooled = true;
    }
    this.young.set(id, entry);
    if (this.young.size >= this.generationSize) this.rotate();
  }

  /**
   * The young generation is full: it becomes the old one. A pooled cache then resizes its
   * generations: it doubles them (up to MAX_GROWTH × its own) when the generation that ended
   * answered less than GROW_BELOW_HIT_RATIO of its reads (the keys it is read for do not fit)
   * and the other caches of the pool leave room for it at the doubled size; it halves them (not
   * below its own) when they do not leave room for its current size (they filled up meanwhile).
   * So a pool stays within its budget, give or take a generation of each cache that shrinks.
   * A cache never has less than its own bound, pool or not.
   */
  private rotate(): void {
    this.old = this.young;
    this.young = new Map();
    const missing = this.generationMisses * GROW_BELOW_HIT_RATIO > this.generationHits * (1 - GROW_BELOW_HIT_RATIO);
    this.generationHits = this.generationMisses = 0;
    const pool = this.pool;
    if (pool === undefined) return;
    // What the other caches hold, plus what this one may hold once both its generations fill.
    const others = pool.held() - this.size;
    const budget = pool.budget();
    if (missing && this.generationSize < MAX_GROWTH * this.baseGenerationSize && others + 4 * this.generationSize <= budget) this.generationSize *= 2;
    else if (others + 2 * this.generationSize > budget && this.generationSize > this.baseGenerationSize) this.generationSize /= 2;
  }
}

/** A cache grows to at most this many times its own bound. */
export const MAX_GROWTH = 16;
/** A pooled cache whose reads hit less often than this grows (see ReadCache.rotate). */
const GROW_BELOW_HIT_RATIO = 0.9;

/**
 * Read caches that share one budget of entries: the stores of one stream thread (each thread
 * runs its own copy of this module), whose plan gives every store the same bound although a few
 * stores (join tables read for every event, per-user aggregates) are read over far more keys than
 * the rest, which hold a handful. Kafka Streams shares cache.max.bytes.buffering across a
 * thread's tasks for the same reason.
 */
export class ReadCachePool {
  private readonly caches = new Set<ReadCache>();

  /** budget: entries the pool's caches may hold together, asked when a cache resizes. */
  constructor(readonly budget: () => number) {}

  join(cache: ReadCache): void {
    this.caches.add(cache);
  }

  leave(cache: ReadCache): void {
    this.caches.delete(cache);
  }

  /** Entries its caches hold (a sum over the caches: asked once per generation of a cache). */
  held(): number {
    let count = 0;
    for (const cache of this.caches) count += cache.size;
    return count;
  }
}

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
 */
export class ReadCache {
  private young = new Map<string, CachedRead>();
  private old = new Map<string, CachedRead>();
  private readonly generationSize: number;
  hits = 0;
  misses = 0;

  constructor(private readonly maxEntries: number) {
    this.generationSize = Math.max(1, Math.floor(maxEntries / 2));
  }

  /** The cached entry, or undefined when not cached. */
  get(id: string): CachedRead | undefined {
    const young = this.young.get(id);
    if (young !== undefined) {
      this.hits++;
      return young;
    }
    const old = this.old.get(id);
    if (old === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
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

  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  private insert(id: string, entry: CachedRead): void {
    this.young.set(id, entry);
    if (this.young.size >= this.generationSize) {
      this.old = this.young;
      this.young = new Map();
    }
  }
}

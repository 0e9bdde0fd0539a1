/**
 * A bounded LRU of committed values read from RocksDB, by changelog key (latin1 id, as in
 * WriteBuffer). A RocksDB point read through the binding costs ~4-5 µs; hot keys (per-user
 * aggregates, join tables) are read far more often than they change, so they come from here.
 *
 * It caches what is on disk, absence included (null), and nothing uncommitted: the write
 * buffer is consulted first, flush updates the keys it holds, restore clears it.
 */
export class ReadCache {
  private readonly entries = new Map<string, Buffer | null>();
  hits = 0;
  misses = 0;

  constructor(private readonly maxEntries: number) {}

  /** The cached value (null: known absent), or undefined when not cached. */
  get(id: string): Buffer | null | undefined {
    const value = this.entries.get(id);
    if (value === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Re-insert to mark as most recently used.
    this.entries.delete(id);
    this.entries.set(id, value);
    return value;
  }

  remember(id: string, value: Buffer | null): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(id);
    this.entries.set(id, value);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** After a flush: keep cached keys equal to what is now on disk. */
  update(id: string, value: Buffer | null): void {
    if (this.entries.has(id)) this.entries.set(id, value);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

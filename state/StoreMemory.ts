/**
 * What each state store may use of the process's memory budget (app/MemoryBudget.ts sets it at
 * start from MEMORY_LIMIT_MB; these defaults are its plan for the default 512 MB).
 *
 * The RocksDB binding (@nxtedition/rocksdb) gives every column family its own block cache and
 * write buffers: it has no cache or WriteBufferManager shared across instances or columns, as
 * Kafka Streams' RocksDBConfigSetter recipe uses. So the budget is divided ahead of time into
 * per-store bounds, for a planned number of stores.
 */
export interface StoreMemorySettings {
  /** Block cache per store (column family), bytes. */
  blockCacheBytes: number;
  /**
   * The binding's memtableMemoryBudget per store: write buffer = budget / 4, up to 6 buffers
   * (1.5x the budget) while flushes lag, 2 (0.5x) in steady state.
   */
  memtableBudgetBytes: number;
  /** Entries of each store instance's read cache of decoded values (state/ReadCache.ts). */
  readCacheEntries: number;
  /**
   * Bytes of key filter (state/StoreKeyFilter.ts) per store: the stores open in a thread share
   * this times their number, so the few stores that keep a filter use the slices of those that do not.
   */
  keyFilterBytes: number;
}

let current: StoreMemorySettings = { blockCacheBytes: 150 * 1024, memtableBudgetBytes: 600 * 1024, readCacheEntries: 500, keyFilterBytes: 80 * 1024 };

export function storeMemory(): StoreMemorySettings {
  return current;
}

/** Applies to stores opened from now on. */
export function setStoreMemory(settings: StoreMemorySettings): void {
  current = { ...settings };
}

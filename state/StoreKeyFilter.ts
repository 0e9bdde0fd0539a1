import { KeyFilter, MIN_KEY_FILTER_CAPACITY, REBUILD_FACTOR } from './KeyFilter.js';
import type { RocksDBEngine } from './RocksDBEngine.js';
import { Keyspace, inKeyspace, keyspaceRange } from './StoreKeyspace.js';
import type { StoreCounters } from './StoreMetrics.js';
import { storeMemory } from './StoreMemory.js';
import { TaskDatabase } from './TaskDatabase.js';

/**
 * A store's key filter (state/KeyFilter.ts) over its life: built from a scan of the stored keys
 * after open and whenever it fills, without stopping the thread, and within the memory plan.
 *
 * The build runs in slices of at most SLICE_MS that yield to the event loop between them: a
 * synchronous scan of dedupe's ~6.5M ids (a 24 h TTL at 300 events/s) held a stream thread for
 * seconds after every restart, with no polls, commits or heartbeats (a rebalance, in Kafka mode).
 * Until a build completes, reads answer from the previous filter if there is one (a full filter
 * still holds every key, with more false positives) and from RocksDB otherwise: the same answers,
 * only slower.
 *
 * A build is two scans: one counts the keys, so the filter is sized for them; the second adds
 * them. The filter exists before the second scan's iterator is made, and every key stored from
 * then on (flush, restore) is added to it as well as to the current filter, so the keys the
 * iterator's snapshot misses are in it too: a finished build never says "absent" for a present key.
 * Two scans rather than one that keeps its keys: 6.5M id strings are ~400 MB of heap.
 *
 * Memory: the filters of a thread's stores share storeMemory().keyFilterBytes per open store (the
 * memory plan's share, config/MemoryPlan.ts). A build sizes its filter for REBUILD_FACTOR times
 * the keys it counted, halving (down to one times) to fit what is left; when even that does not
 * fit, the store keeps no filter (streamline_store_key_filter_dropped_total) and tries again once
 * as many keys as it counted were stored since.
 */
export class StoreKeyFilter {
  private filter: KeyFilter | undefined;
  private build: Build | undefined;
  /** After a build found no room: keys to store before the next attempt. */
  private addsBeforeRetry: number | undefined;
  /** After a failed build (the task database reopened under it): no new one before this time. */
  private retryAt = 0;

  constructor(
    /** The ids the filter covers start with this ('' for all). */
    readonly prefix: string,
    private readonly counters: StoreCounters,
  ) {}

  /** false: RocksDB certainly does not hold id (one that starts with prefix). May start a build. */
  mightContain(id: string, engine: RocksDBEngine): boolean {
    const filter = this.filter;
    if (filter === undefined || filter.full) this.startBuild(engine);
    return filter === undefined || filter.mightContain(id);
  }

  /** Whether noteStored() has anything to do (saves decoding keys for stores without a filter yet). */
  get takesKeys(): boolean {
    return this.filter !== undefined || this.build !== undefined || this.addsBeforeRetry !== undefined;
  }

  /** id (starting with prefix) is now stored in RocksDB. */
  noteStored(id: string): void {
    this.filter?.add(id);
    this.build?.filter?.add(id);
    if (this.addsBeforeRetry !== undefined && this.addsBeforeRetry > 0) this.addsBeforeRetry--;
  }

  /** Resolves when no build is running (tests and benches wait for the filter with it). */
  settled(): Promise<void> {
    return this.build?.done ?? Promise.resolve();
  }

  /** Forgets the filter and abandons a build: the store is opening or closing. */
  reset(): void {
    if (this.build) this.build.cancelled = true;
    this.build = undefined;
    this.setFilter(undefined);
    this.addsBeforeRetry = undefined;
    this.retryAt = 0;
  }

  private startBuild(engine: RocksDBEngine): void {
    if (this.build !== undefined || Date.now() < this.retryAt || (this.addsBeforeRetry ?? 0) > 0) return;
    this.addsBeforeRetry = undefined;
    const build: Build = { cancelled: false, filter: undefined, done: Promise.resolve() };
    this.build = build;
    build.done = this.run(build, engine);
  }

  private async run(build: Build, engine: RocksDBEngine): Promise<void> {
    const range = this.range();
    try {
      let count = 0;
      await scanInSlices(build, engine, range, () => count++);
      if (build.cancelled) return;
      const filter = this.allocate(count);
      if (filter === undefined) {
        this.counters.keyFilterDrops++;
        this.addsBeforeRetry = Math.max(MIN_KEY_FILTER_CAPACITY, count);
        return;
      }
      // Before the scan's iterator is made: keys stored from here on are added by noteStored().
      build.filter = filter;
      await scanInSlices(build, engine, range, (key) => filter.add(key, 1));
      if (build.cancelled) return;
      this.setFilter(filter);
      build.filter = undefined;
    } catch {
      // The task database was reopened (a store joined the task) or closed under the scan.
      if (!build.cancelled) this.retryAt = Date.now() + RETRY_AFTER_FAILURE_MS;
    } finally {
      if (build.filter !== undefined) release(this.counters, build.filter.bytes);
      if (this.build === build) this.build = undefined;
    }
  }

  /**
   * A filter for count keys and REBUILD_FACTOR times as many to come, or fewer to come (down to
   * none) when the share left has no room for that; undefined when even that does not fit (the
   * current filter is let go then: a full filter serves worse and worse).
   */
  private allocate(count: number): KeyFilter | undefined {
    const least = Math.max(MIN_KEY_FILTER_CAPACITY, count);
    // The current filter, full, is replaced by this one: it counts until then, unless there is no room for both.
    if (this.filter !== undefined && KeyFilter.bytesFor(least) > roomLeft()) this.setFilter(undefined);
    for (let capacity = Math.max(MIN_KEY_FILTER_CAPACITY, REBUILD_FACTOR * count); ; capacity = Math.max(least, Math.floor(capacity / 2))) {
      const bytes = KeyFilter.bytesFor(capacity);
      if (bytes <= roomLeft()) {
        reserve(this.counters, bytes);
        return new KeyFilter(capacity);
      }
      if (capacity === least) {
        this.setFilter(undefined);
        return undefined;
      }
    }
  }

  private setFilter(filter: KeyFilter | undefined): void {
    if (this.filter !== undefined) release(this.counters, this.filter.bytes);
    this.filter = filter;
  }

  private range(): { gte: Buffer; lt: Buffer } {
    const prefix = Buffer.from(this.prefix, 'latin1');
    const end = prefixEnd(prefix);
    return { gte: inKeyspace(Keyspace.Data, prefix), lt: end ? inKeyspace(Keyspace.Data, end) : keyspaceRange(Keyspace.Data).lt };
  }
}

interface Build {
  cancelled: boolean;
  /** The filter being filled (from the second scan on), given every key stored meanwhile. */
  filter: KeyFilter | undefined;
  done: Promise<void>;
}

/**
 * Longest a build scans before it yields, ms: ~5,000 keys at ~0.75 µs each (plus one chunk of
 * 1,000 past the deadline), a small part of the poll and heartbeat intervals.
 */
export const SLICE_MS = 4;
/** A failed build (its iterator closed by a reopen of the task database) is tried again after this. */
const RETRY_AFTER_FAILURE_MS = 1000;

/** Visits the keys of range a chunk at a time, yielding to the event loop every SLICE_MS; stops early when the build is cancelled. */
async function scanInSlices(build: Build, engine: RocksDBEngine, range: { gte: Buffer; lt: Buffer }, visit: (key: string) => void): Promise<void> {
  const cursor = engine.keyTextCursor(range);
  try {
    for (;;) {
      const sliceEnd = performance.now() + SLICE_MS;
      let finished = false;
      while (!finished && performance.now() < sliceEnd) finished = cursor.next(visit);
      if (finished) return;
      await new Promise((resolve) => setImmediate(resolve));
      if (build.cancelled) return;
    }
  } finally {
    cursor.close();
  }
}

/** Bytes the key filters of this thread hold (counted in each store's StoreCounters too). */
let heldBytes = 0;

function roomLeft(): number {
  return storeMemory().keyFilterBytes * TaskDatabase.openColumns() - heldBytes;
}

function reserve(counters: StoreCounters, bytes: number): void {
  heldBytes += bytes;
  counters.keyFilterBytes += bytes;
}

function release(counters: StoreCounters, bytes: number): void {
  heldBytes -= bytes;
  counters.keyFilterBytes -= bytes;
}

/** The smallest key above every key that starts with prefix; undefined when none is (empty, or all 0xff). */
function prefixEnd(prefix: Buffer): Buffer | undefined {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const out = Buffer.from(prefix.subarray(0, end));
  out[end - 1]++;
  return out;
}

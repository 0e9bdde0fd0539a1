import { readInteger, type Env } from './EnvReaders.js';

/**
 * One memory budget for the process (MEMORY_LIMIT_MB, issue 21 item 1), divided ahead of time
 * among what can hold memory in proportion to load: RocksDB block caches and write buffers (state
 * stores and the embedded log), the stores' read caches, the ingress's in-flight bodies, sink
 * batches and chDB's query memory. The rest is the runtime's fixed base (Node/V8 and, when
 * ClickHouse is embedded, chDB's engine, ~210 MB resident on its own) and headroom for garbage.
 *
 * The bounds are planned, not enforced by one allocator: @nxtedition/rocksdb has no block cache
 * or WriteBufferManager shared across column families, so each store gets a fixed slice for
 * PLANNED_STORES stores (the default pipeline opens 86). What enforces the limit is the memory
 * pressure check (app/MemoryPressure.ts): at the budget the ingress refuses with 503 +
 * Retry-After, so intake slows instead of memory growing.
 */
/**
 * 1024 MB: the service measured ~580-600 MB resident at a steady 300 events/s and ~700 MB at 1,000
 * events/s on embedded defaults with its threads (BENCHMARKS.md "Soak (issue 21 item 7)"). With
 * 768 the steady state sat at the refusal line (730 MB) and memory retained after a burst (V8 and
 * malloc keep their pages) held intake refused at idle; 1024 leaves the pressure check for real
 * pressure. A small box's gigabyte; set MEMORY_LIMIT_MB to the container's memory.
 */
export const DEFAULT_MEMORY_LIMIT_MB = 1024;
export const MIN_MEMORY_LIMIT_MB = 384;
/**
 * Node/V8 with the service's modules loaded, in every thread of the threaded default (HTTP, log,
 * stream and sink isolates: 330-390 MB idle with chDB's ~240 MB of library and engine, and each
 * isolate's heap grows to 20-50 MB under load, young generations included: HTTP thread up to 48
 * MB, stream and sink threads 24 each, config/YoungGeneration.ts). Single-threaded it is ~50 MB
 * less: headroom.
 * Not so the stream thread at full capacity (bench/stream-heap.ts, 8 x bulk-100): its heap
 * reaches 180-315 MB (used 160-290) while 41-59 MB of it is live, read caches 27-36 MB of that:
 * the rest is garbage V8 lets accumulate between full collections (up to 4x the live heap when
 * the isolate's limit is the default ~4 GB). This base does not cover it; the pressure check does.
 */
const NODE_BASE_MB = 150;
/** chDB's engine, resident once loaded (measured in a bare Node process). */
const CHDB_BASE_MB = 210;
/** Store instances the per-store slices are sized for (default pipeline: 86). */
export const PLANNED_STORES = 96;
/**
 * A read cache entry: key, bytes and decoded object of a typical aggregate. Measured in the stream
 * thread's heap at full capacity (bench/stream-heap.ts): 250-380 bytes an entry over 77-140k entries
 * (mostly dedupe and distinct markers, decoded to small numbers), plus each value's own backing store.
 */
const READ_CACHE_ENTRY_BYTES = 512;

/**
 * Sink batches the plan counts at once: two per partition (one buffered behind the one being
 * written) for the four partitions of the default pipeline's clean-events topic. More partitions
 * hold more; the pressure check (MemoryPressure) covers what the plan does not.
 */
const SINK_BATCHES_HELD = 8;
/**
 * What chDB allocates to insert a batch, per byte of its records: the rows as JSONEachRow are ~2x
 * the records (the payload column is the event as escaped JSON), the insert ~13x that (the
 * statement text, its parsed literal, format()'s blocks). Measured at 2,000-20,000 rows.
 */
export const INSERT_MEMORY_PER_RECORD_BYTE = 28;
/** Headroom in chDB's tracked total for its caches (marks, uncompressed blocks, query results). */
const CHDB_CACHES_MB = 64;
/**
 * Memory an accepted but unprocessed record takes once the topology and the sink process it:
 * the 1,000 events/s soak's capacity phase grew ~150 MB of anonymous memory after the refusal
 * while a backlog of ~28,000 was processed (~5.5 KB each). The pressure check counts the backlog
 * at this price, so it refuses early enough for the accepted work to fit under the budget.
 */
export const BACKLOG_RECORD_BYTES = 6 * 1024;
/**
 * Shares of the budget at which intake is refused and accepted again. Memory keeps rising after
 * the refusal while the work already in flight is processed and V8 collects late: at full capacity
 * RSS peaked 8-10 % of the budget over a 95 % line (1,050-1,071 MB at 1024 with the backlog priced
 * and the stream heap limited), and over a 90 % line still 12 % for one minute of ten (1,048.5 MB,
 * chDB merging its larger parts at 6k events/s), so the line sits at 85 % and intake resumes under
 * 80 %. The planned parts still fit under it from 768 MB up (804 of 870 MB at 1024); the 1,000
 * events/s soak peaks ~750 MB, clear of it.
 */
export const REFUSE_AT_SHARE = 0.85;
export const RESUME_BELOW_SHARE = 0.8;
/**
 * The stream threads' V8 heaps (old generation, all stream threads together): without a limit V8
 * lets the stream thread's heap grow to 4x its live ~50 MB between full collections at full
 * capacity (160-315 MB, bench/stream-heap.ts), and RSS over the budget with it. A limit makes V8
 * collect sooner. 30% of what the runtime base leaves (199 MB at 1024), at least
 * MIN_STREAM_HEAP_MB: 128 ran out of heap within 30 s of full capacity (one stream thread with the
 * sink and chDB's insert strings); 192 and 256 held it with the used heap at most 138-200 MB.
 */
const STREAM_HEAP_SHARE = 0.3;
export const MIN_STREAM_HEAP_MB = 192;

const MB = 1024 * 1024;

/** A state store's slice of the plan, bytes (the shape state/StoreMemory.ts's setStoreMemory takes). */
export interface StoreMemoryShare {
  blockCacheBytes: number;
  memtableBudgetBytes: number;
  readCacheEntries: number;
  /** Key filter bytes per store (state/StoreKeyFilter.ts pools them across a thread's stores). */
  keyFilterBytes: number;
}

/** The embedded log's slice of the plan, bytes (the shape log/embedded/LogDatabase.ts's setLogDatabaseMemory takes). */
export interface LogMemoryShare {
  blockCacheBytes: number;
  memtableBudgetBytes: number;
}

export interface MemoryPlan {
  limitBytes: number;
  /** Runtime base not under any setting: Node/V8 (+ chDB's engine when embedded). */
  baseBytes: number;
  /** Each state store's slice (state/StoreMemory.ts applies it). */
  stores: StoreMemoryShare;
  /** The embedded log's slice (log/embedded/LogDatabase.ts applies it). */
  log: LogMemoryShare;
  /** Request bodies the ingress holds at once (INGRESS_MAX_IN_FLIGHT_BYTES's default). */
  ingressInFlightBytes: number;
  /**
   * Record bytes of one sink batch (SINK_BATCH_MAX_BYTES's default). The sink holds up to two
   * batches per partition buffered and one being written, so its share is SINK_BATCHES_HELD of these.
   */
  sinkBatchBytes: number;
  /**
   * chDB's settings (CHDB_MAX_MEMORY_USAGE / CHDB_MAX_SERVER_MEMORY_USAGE): max_memory_usage, what
   * one query or insert may allocate, at least what inserting a full sink batch takes; and
   * max_server_memory_usage, the engine's tracked total (queries, merges, caches: not its ~210 MB
   * of code and static data, which the engine's tracker does not count). 0 when ClickHouse is a server.
   */
  chdb: { maxServerMemoryUsageBytes: number; maxMemoryUsageBytes: number };
  /**
   * RSS (plus the accepted backlog at backlogRecordBytes each) at which the ingress starts
   * refusing, and below which it accepts again.
   */
  pressure: { refuseAboveBytes: number; resumeBelowBytes: number; backlogRecordBytes: number };
  /**
   * The stream threads' V8 old generation, MB, all of them together (app/threads/ divides it
   * among STREAM_THREADS workers as resourceLimits.maxOldGenerationSizeMb; STREAM_HEAP_MB overrides
   * it per thread). Past it a worker dies with ERR_WORKER_OUT_OF_MEMORY and the process exits.
   */
  streamHeapMb: number;
  /**
   * Whether the pressure check runs: true unless MEMORY_LIMIT_MB=0, which turns the refusals off
   * (the caches keep the default plan's sizes), e.g. under a supervisor that enforces its own limit.
   */
  enforced: boolean;
}

export function planMemory(limitMb: number, options: { embeddedChdb: boolean } = { embeddedChdb: true }): MemoryPlan {
  const limitBytes = limitMb * MB;
  const baseBytes = (NODE_BASE_MB + (options.embeddedChdb ? CHDB_BASE_MB : 0)) * MB;
  const rest = Math.max(limitBytes - baseBytes, 64 * MB);
  const share = (fraction: number) => Math.floor(rest * fraction);

  // 20% to the state stores' RocksDB: a third block cache, the rest write buffers. The binding
  // keeps 2 write buffers of budget / 4 in steady state (0.5x the budget), up to 6 (1.5x) while
  // flushes lag; the plan counts the steady state, the pressure check covers the rest.
  const perStore = share(0.2) / PLANNED_STORES;
  const stores: StoreMemoryShare = {
    blockCacheBytes: clamp(Math.floor(perStore / 3), 128 * 1024, 64 * MB),
    memtableBudgetBytes: clamp(Math.floor(((perStore * 2) / 3) / 0.5), 512 * 1024, 64 * MB),
    // 10% to the read caches of decoded values.
    readCacheEntries: clamp(Math.floor(share(0.1) / PLANNED_STORES / READ_CACHE_ENTRY_BYTES), 500, 100_000),
    // 5% (out of the headroom) to the key filters of dedupe ids and distinct markers: ~33 MB at
    // 1024 MB, a filter of ~1.25-2.5 bytes per key at the least (10 bits, rounded up to a power of
    // two) for ~13-26M keys in all. Past it a filter is dropped and those reads go to RocksDB.
    keyFilterBytes: clamp(Math.floor(share(0.05) / PLANNED_STORES), 64 * 1024, 16 * MB),
  };
  // 10% to the embedded log's RocksDB (appends, and the topology's reads of fresh records). Its
  // write buffer stays >= 4 MB (16 MB budget): every event is appended there, and smaller
  // buffers turn into a flush and an L0 compaction every second under load.
  const logShare = share(0.1);
  const log: LogMemoryShare = {
    blockCacheBytes: clamp(Math.floor(logShare / 2), 4 * MB, 256 * MB),
    memtableBudgetBytes: clamp(logShare, 16 * MB, 512 * MB),
  };
  // 10% to request bodies in flight, 8% to sink batches (at most what chDB's share can insert),
  // 15% to chDB's queries and inserts (BENCHMARKS.md "Issue 21: chDB memory, sink batch bytes...").
  // The rest is headroom (garbage between collections, RocksDB's write buffers while flushes lag).
  // A sink batch is also bounded by chDB's share: inserting it takes ~28x its bytes, so batches
  // sized by their own share alone (8%) asked chDB for twice its 15% and the plan overran the budget.
  const chdbQueryBytes = Math.max(share(0.15), 32 * MB);
  const sinkBatchBytes = clamp(Math.min(Math.floor(share(0.08) / SINK_BATCHES_HELD), Math.floor(chdbQueryBytes / INSERT_MEMORY_PER_RECORD_BYTE)), 512 * 1024, 8 * MB);
  return {
    limitBytes,
    baseBytes,
    stores,
    log,
    ingressInFlightBytes: Math.max(share(0.1), 4 * MB),
    sinkBatchBytes,
    // Inserts run one at a time on chDB's connection (measured: queries on one session are
    // serialised), so the total is one insert, a background merge of similar size and caches.
    chdb: options.embeddedChdb
      ? { maxServerMemoryUsageBytes: 2 * chdbQueryBytes + CHDB_CACHES_MB * MB, maxMemoryUsageBytes: chdbQueryBytes }
      : { maxServerMemoryUsageBytes: 0, maxMemoryUsageBytes: 0 },
    streamHeapMb: Math.max(MIN_STREAM_HEAP_MB, Math.floor(share(STREAM_HEAP_SHARE) / MB)),
    pressure: { refuseAboveBytes: Math.floor(limitBytes * REFUSE_AT_SHARE), resumeBelowBytes: Math.floor(limitBytes * RESUME_BELOW_SHARE), backlogRecordBytes: BACKLOG_RECORD_BYTES },
    enforced: true,
  };
}

/**
 * MEMORY_LIMIT_MB (default 1024, at least 384; 0 turns the pressure check off and sizes the caches
 * as for the default); embedded chDB unless CLICKHOUSE_URL names a server.
 */
export function readMemoryPlan(env: Env): MemoryPlan {
  const embeddedChdb = !env.CLICKHOUSE_URL;
  if (env.MEMORY_LIMIT_MB?.trim() === '0') return { ...planMemory(DEFAULT_MEMORY_LIMIT_MB, { embeddedChdb }), enforced: false };
  const limitMb = readInteger(env, 'MEMORY_LIMIT_MB', DEFAULT_MEMORY_LIMIT_MB, MIN_MEMORY_LIMIT_MB, 1024 * 1024);
  return planMemory(limitMb, { embeddedChdb });
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

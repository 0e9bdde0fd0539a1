import { TaskDatabase, type NativeBatch } from './TaskDatabase.js';

/**
 * The storage engine at the bottom of the store stack: one store's column family in its task's
 * RocksDB (state/TaskDatabase.ts), holding raw bytes. It knows nothing of serdes, changelogs or
 * checkpoints (those live in the store layers above).
 *
 * Reads and batch writes use @nxtedition/rocksdb's synchronous paths (_getManySync, _nextvSync,
 * chained batch _writeSync): processors read per record, and an await per read would cost more
 * than the read itself. Writes are synchronous too because every write we make is a whole
 * commit (data + checkpoint) that must land as one RocksDB write batch.
 */

/** Bounds of a scan; byte-wise order, like RocksDB's default comparator. */
export interface ScanRange {
  gte?: Buffer;
  gt?: Buffer;
  lte?: Buffer;
  lt?: Buffer;
  reverse?: boolean;
  limit?: number;
}

/** Ops collected in JS and handed to RocksDB as one atomic write batch. */
export class EngineBatch {
  private readonly native: NativeBatch;
  private count = 0;

  constructor(
    private readonly database: TaskDatabase,
    private readonly column: { column: unknown },
  ) {
    this.native = database.db._chainedBatch();
  }

  put(key: Buffer, value: Buffer): void {
    this.native._put(key, value, this.column);
    this.count++;
  }

  delete(key: Buffer): void {
    this.native._del(key, this.column);
    this.count++;
  }

  get length(): number {
    return this.count;
  }

  /** Writes every op atomically (one RocksDB WriteBatch through the WAL), then frees the batch. */
  write(sync = false): void {
    try {
      this.native._writeSync({ sync });
    } finally {
      this.discard();
    }
  }

  discard(): void {
    this.native._closeSync();
    // Or the database's resource Set keeps every batch ever written (TaskDatabase's NativeDb.detachResource).
    this.database.db.detachResource(this.native);
  }
}

/** A key scan read a chunk (SCAN_CHUNK keys) per next(). */
export interface KeyTextCursor {
  /** Visits the next chunk of keys; true when the scan has reached the end of its range. */
  next(visit: (key: string) => void): boolean;
  close(): void;
}

/** Rows fetched per native call while scanning: big enough to amortise the crossing. */
const SCAN_CHUNK = 1000;

export class RocksDBEngine {
  private released = false;

  private constructor(
    /** The task directory; the store's data is the column `column` of its RocksDB. */
    readonly location: string,
    readonly column: string,
    private readonly database: TaskDatabase,
  ) {}

  /** The store's column in the RocksDB of the task directory dir (created when missing). */
  static async open(dir: string, column: string): Promise<RocksDBEngine> {
    return new RocksDBEngine(dir, column, await TaskDatabase.acquire(dir, column));
  }

  get isOpen(): boolean {
    return !this.released;
  }

  /** The binding's per-call options naming the column (a reopen of the task database replaces the handle). */
  private target(): { column: unknown } {
    return { column: this.database.column(this.column) };
  }

  get(key: Buffer): Buffer | undefined {
    const [value] = this.database.db._getManySync([key], this.target());
    // null means the read was aborted or timed out (we set no deadline, so it should not happen).
    if (value === null) throw new Error(`RocksDB read of a key in ${this.location}/${this.column} was aborted`);
    return value;
  }

  getMany(keys: Buffer[]): (Buffer | undefined)[] {
    return this.database.db._getManySync(keys, this.target()).map((value) => {
      if (value === null) throw new Error(`RocksDB read in ${this.location}/${this.column} was aborted`);
      return value;
    });
  }

  /**
   * Entries in key order within the range, read lazily in chunks. The iterator sees a snapshot
   * taken when the scan starts; it is closed when the loop ends, breaks or throws.
   */
  *scan(range: ScanRange): Generator<[Buffer, Buffer]> {
    const options: Record<string, unknown> = { keyEncoding: 'buffer', valueEncoding: 'buffer', keys: true, values: true, ...this.target() };
    // abstract-level encodes every range option present, undefined included: pass only the set ones.
    for (const bound of ['gte', 'gt', 'lte', 'lt'] as const) if (range[bound]) options[bound] = range[bound];
    options.reverse = range.reverse === true;
    options.limit = range.limit ?? -1;
    const iterator = this.database.db.iterator(options);
    try {
      for (;;) {
        const { rows, finished } = iterator._nextvSync(SCAN_CHUNK);
        for (let i = 0; i < rows.length; i += 2) yield [rows[i], rows[i + 1]];
        if (finished) return;
      }
    } finally {
      this.database.closeIterator(iterator);
    }
  }

  /**
   * The keys within [gte, lt), in key order, without their values, decoded as UTF-8 (state/KeyFilter.ts
   * builds from these), read a chunk at a time so a caller can yield between chunks: a string per
   * key costs the binding ~0.5 µs, a Buffer ~1.2 µs. Exact for ASCII keys only; a key with other
   * bytes comes out changed. The cursor sees the store as it was when it was made (RocksDB's
   * iterator snapshot); close() it when done, finished or not.
   */
  keyTextCursor(range: { gte: Buffer; lt: Buffer }): KeyTextCursor {
    const db = this.database.db;
    const iterator = db.iterator({ keyEncoding: 'utf8', valueEncoding: 'buffer', keys: true, values: false, limit: -1, gte: range.gte, lt: range.lt, ...this.target() });
    let closed = false;
    return {
      next: (visit) => {
        const { rows, finished } = iterator._nextvSync(SCAN_CHUNK);
        // keyEncoding 'utf8': the rows are strings (NativeIterator types them for the buffer encoding).
        for (let i = 0; i < rows.length; i += 2) visit(rows[i] as unknown as string);
        return finished;
      },
      close: () => {
        if (closed) return;
        closed = true;
        // A reopen of the task database (a store added to the task) closed the handle, and its iterators with it.
        if (db.status !== 'open') return;
        this.database.closeIterator(iterator);
      },
    };
  }

  batch(): EngineBatch {
    return new EngineBatch(this.database, this.target());
  }

  /**
   * Keys in the store's column. Counted, not estimated: the binding reads RocksDB properties of
   * the default column only. Costs a key-only scan (approximateNumEntries is not on a hot path).
   */
  estimateNumKeys(): number {
    const iterator = this.database.db.iterator({ keyEncoding: 'buffer', valueEncoding: 'buffer', keys: true, values: false, limit: -1, ...this.target() });
    let count = 0;
    try {
      for (;;) {
        const { rows, finished } = iterator._nextvSync(SCAN_CHUNK);
        count += rows.length / 2;
        if (finished) return count;
      }
    } finally {
      this.database.closeIterator(iterator);
    }
  }

  /** Deletes every key of the store (a store without a checkpoint is discarded this way). */
  async clear(): Promise<void> {
    await this.database.clearColumn(this.column);
  }

  async close(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.database.release(this.column);
  }
}

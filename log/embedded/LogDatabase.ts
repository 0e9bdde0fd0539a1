import { createRequire } from 'node:module';

/**
 * The few pieces of @nxtedition/rocksdb 12 the embedded log uses (the package ships no type
 * declarations). Writes and reads go through its synchronous paths (chained batch _writeSync,
 * _getManySync, iterator _nextvSync): they are short, they keep an append and the in-memory end
 * offsets in one step of the event loop (no window where a reader sees one without the other), and
 * they avoid a thread-pool hop per call on the ingress hot path.
 */
export interface ChainedBatch {
  _put(key: Buffer, value: Buffer, options: object): void;
  _del(key: Buffer, options: object): void;
  _writeSync(options: { sync?: boolean }): void;
  _closeSync(): void;
}

interface RocksIterator {
  _nextvSync(size: number, options: object): { rows: Buffer[]; finished: boolean };
  _closeSync(): void;
}

interface RocksLevelInstance {
  status: string;
  open(): Promise<void>;
  close(): Promise<void>;
  _chainedBatch(): ChainedBatch;
  /**
   * abstract-level's registry of open batches and iterators, which db.close() closes. Only its
   * async close() unregisters one: a batch or iterator closed with _closeSync() must be detached,
   * or the Set keeps it, and with it the native WriteBatch or iterator, for the life of the database.
   */
  detachResource(resource: object): void;
  _getManySync(keys: Buffer[], options: object): Array<Buffer | undefined>;
  _iterator(options: object): RocksIterator;
}

interface RocksModule {
  RocksLevel: new (location: string, options?: object) => RocksLevelInstance;
}

const require = createRequire(import.meta.url);
const { RocksLevel } = require('@nxtedition/rocksdb') as RocksModule;

export type WriteOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

const BUFFERS = { keyEncoding: 'buffer', valueEncoding: 'buffer' } as const;
const EMPTY = {};

export interface ScanRange {
  gte: Buffer;
  lt: Buffer;
  limit?: number;
  reverse?: boolean;
}

export interface Cursor {
  next(count: number): { rows: Array<[Buffer, Buffer]>; finished: boolean };
  close(): void;
}

/** The embedded log's share of the memory budget (app/MemoryBudget.ts sets it at start). */
export interface LogDatabaseMemory {
  /** RocksDB block cache, bytes. */
  blockCacheBytes: number;
  /** The binding's memtableMemoryBudget: write buffer = budget / 4 (and the WAL preallocates ~1.1x that). */
  memtableBudgetBytes: number;
}

let logMemory: LogDatabaseMemory = { blockCacheBytes: 11 << 20, memtableBudgetBytes: 22 << 20 };

/** Applies to log databases opened from now on. */
export function setLogDatabaseMemory(memory: LogDatabaseMemory): void {
  logMemory = { ...memory };
}

export class LogDatabase {
  private constructor(private readonly db: RocksLevelInstance) {}

  static async open(dir: string): Promise<LogDatabase> {
    // compaction 'level' makes the binding size the write buffer from the budget; without it
    // RocksDB's 64 MB default write buffer preallocates a ~70 MB write-ahead log at idle. Levels
    // >= 2 stay ZSTD-compressed; `compression: false` leaves out the binding's trained dictionary
    // (see state/TaskDatabase.ts: ~4 µs of background CPU per event, for ~4 % less disk).
    const db = new RocksLevel(dir, {
      walCompression: false,
      compaction: 'level',
      compression: false,
      memtableMemoryBudget: logMemory.memtableBudgetBytes,
      cacheSize: logMemory.blockCacheBytes,
    });
    await db.open();
    return new LogDatabase(db);
  }

  get isOpen(): boolean {
    return this.db.status === 'open';
  }

  /**
   * One atomic write. `sync: false` (the default) means the batch is in the RocksDB write-ahead
   * log, handed to the OS with write(2) before this returns: it survives the process being killed,
   * not a power cut. See EmbeddedLog's produce() for why we do not fsync each append.
   */
  write(ops: Iterable<WriteOp>, sync = false): void {
    const batch = this.db._chainedBatch();
    try {
      for (const op of ops) {
        if (op.type === 'put') batch._put(op.key, op.value, EMPTY);
        else batch._del(op.key, EMPTY);
      }
      batch._writeSync({ sync });
    } finally {
      this.endBatch(batch);
    }
  }

  /** A batch the caller fills directly (the append path avoids building op objects). */
  beginBatch(): ChainedBatch {
    return this.db._chainedBatch();
  }

  /** Frees a batch from beginBatch(), written or not (see RocksLevelInstance.detachResource). */
  endBatch(batch: ChainedBatch): void {
    batch._closeSync();
    this.db.detachResource(batch);
  }

  getMany(keys: Buffer[]): Array<Buffer | undefined> {
    if (keys.length === 0) return [];
    return this.db._getManySync(keys, BUFFERS);
  }

  /** Key/value pairs of a range, in key order (or reverse), up to limit. */
  scan(range: ScanRange): Array<[Buffer, Buffer]> {
    const limit = range.limit ?? -1;
    const cursor = this.cursor(range);
    const out: Array<[Buffer, Buffer]> = [];
    try {
      for (;;) {
        const want = limit < 0 ? 1000 : Math.min(1000, limit - out.length);
        if (want <= 0) break;
        const { rows, finished } = cursor.next(want);
        for (const row of rows) out.push(row);
        if (finished) break;
      }
    } finally {
      cursor.close();
    }
    return out;
  }

  /** An iterator over a range, read a few entries at a time; close() it when done. */
  cursor(range: ScanRange): Cursor {
    const it = this.db._iterator({
      gte: range.gte,
      lt: range.lt,
      limit: range.limit ?? -1,
      reverse: range.reverse ?? false,
      keys: true,
      values: true,
      ...BUFFERS,
    });
    const db = this.db;
    let done = false;
    return {
      next(count: number) {
        if (done) return { rows: [], finished: true };
        const { rows, finished } = it._nextvSync(count, EMPTY);
        const out: Array<[Buffer, Buffer]> = [];
        for (let i = 0; i < rows.length; i += 2) out.push([rows[i], rows[i + 1]]);
        done = finished || rows.length === 0;
        return { rows: out, finished: done };
      },
      close() {
        it._closeSync();
        db.detachResource(it);
      },
    };
  }

  async close(): Promise<void> {
    if (this.db.status === 'open' || this.db.status === 'opening') await this.db.close();
  }
}

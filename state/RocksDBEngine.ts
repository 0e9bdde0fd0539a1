import { createRequire } from 'node:module';
import { mkdir } from 'node:fs/promises';

/**
 * The storage engine at the bottom of the store stack: one RocksDB instance holding raw bytes.
 * It knows nothing of serdes, changelogs or checkpoints (those live in the store layers above).
 *
 * Reads and batch writes use @nxtedition/rocksdb's synchronous paths (_getManySync, _nextvSync,
 * chained batch _writeSync): processors read per record, and an await per read would cost more
 * than the read itself. Writes are synchronous too because every write we make is a whole
 * commit (data + checkpoint) that must land as one RocksDB write batch.
 */

/** The few pieces of @nxtedition/rocksdb 12 we use (the package ships no type declarations). */
interface NativeIterator {
  _nextvSync(size: number): { rows: Buffer[]; finished: boolean };
  _closeSync(): void;
}
interface NativeBatch {
  _put(key: Buffer, value: Buffer): void;
  _del(key: Buffer): void;
  _writeSync(options: { sync?: boolean }): void;
  _closeSync(): void;
}
interface NativeDb {
  open(): Promise<void>;
  close(): Promise<void>;
  readonly status: string;
  _getManySync(keys: Buffer[]): (Buffer | undefined | null)[];
  _chainedBatch(): NativeBatch;
  iterator(options: Record<string, unknown>): NativeIterator;
  getProperty(property: string): string;
}
interface RocksModule {
  RocksLevel: new (location: string) => NativeDb;
}

const require = createRequire(import.meta.url);
const { RocksLevel } = require('@nxtedition/rocksdb') as RocksModule;

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

  constructor(db: NativeDb) {
    this.native = db._chainedBatch();
  }

  put(key: Buffer, value: Buffer): void {
    this.native._put(key, value);
    this.count++;
  }

  delete(key: Buffer): void {
    this.native._del(key);
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
      this.native._closeSync();
    }
  }

  discard(): void {
    this.native._closeSync();
  }
}

/** Rows fetched per native call while scanning: big enough to amortise the crossing. */
const SCAN_CHUNK = 1000;

export class RocksDBEngine {
  private constructor(
    readonly location: string,
    private readonly db: NativeDb,
  ) {}

  static async open(location: string): Promise<RocksDBEngine> {
    await mkdir(location, { recursive: true });
    const db = new RocksLevel(location);
    await db.open();
    return new RocksDBEngine(location, db);
  }

  get isOpen(): boolean {
    return this.db.status === 'open';
  }

  get(key: Buffer): Buffer | undefined {
    const [value] = this.db._getManySync([key]);
    // null means the read was aborted or timed out (we set no deadline, so it should not happen).
    if (value === null) throw new Error(`RocksDB read of a key in ${this.location} was aborted`);
    return value;
  }

  getMany(keys: Buffer[]): (Buffer | undefined)[] {
    return this.db._getManySync(keys).map((value) => {
      if (value === null) throw new Error(`RocksDB read in ${this.location} was aborted`);
      return value;
    });
  }

  /**
   * Entries in key order within the range, read lazily in chunks. The iterator sees a snapshot
   * taken when the scan starts; it is closed when the loop ends, breaks or throws.
   */
  *scan(range: ScanRange): Generator<[Buffer, Buffer]> {
    const options: Record<string, unknown> = { keyEncoding: 'buffer', valueEncoding: 'buffer', keys: true, values: true };
    // abstract-level encodes every range option present, undefined included: pass only the set ones.
    for (const bound of ['gte', 'gt', 'lte', 'lt'] as const) if (range[bound]) options[bound] = range[bound];
    options.reverse = range.reverse === true;
    options.limit = range.limit ?? -1;
    const iterator = this.db.iterator(options);
    try {
      for (;;) {
        const { rows, finished } = iterator._nextvSync(SCAN_CHUNK);
        for (let i = 0; i < rows.length; i += 2) yield [rows[i], rows[i + 1]];
        if (finished) return;
      }
    } finally {
      iterator._closeSync();
    }
  }

  batch(): EngineBatch {
    return new EngineBatch(this.db);
  }

  /** RocksDB's estimate of the live keys (fast; counts keys of every keyspace in this db). */
  estimateNumKeys(): number {
    return Number(this.db.getProperty('rocksdb.estimate-num-keys')) || 0;
  }

  async close(): Promise<void> {
    if (this.isOpen) await this.db.close();
  }
}

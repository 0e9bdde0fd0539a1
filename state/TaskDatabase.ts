import { createRequire } from 'node:module';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { storeMemory } from './StoreMemory.js';

/**
 * One RocksDB per task directory, with a column family per store (issue 21 item 2).
 *
 * Every RocksDB instance reserves a preallocated write-ahead log (~1.1x its write buffer) and a
 * 4 MB MANIFEST on disk, whatever it holds; one instance per store made the default pipeline
 * reserve 6.3 GB at idle. Column families share the instance's WAL and MANIFEST, and a write
 * batch across them is still atomic. One instance per task (not per process or thread) keeps a
 * task's state in its own directory, so a task can move between stream threads or be wiped alone.
 *
 * The binding declares column families only at open: a store whose column the open database lacks
 * reopens it with one more (at the first start of a task; afterwards the columns are read from
 * RocksDB's OPTIONS file and one open serves every store). Engines read the native handle through
 * the TaskDatabase at each call, so a reopen is invisible to stores already open; opens and closes
 * of one directory are serialised.
 *
 * Each store keeps an empty marker directory <task dir>/<store name>: removing it (what the
 * restorer does to discard a store's state, or an operator by hand) clears the store's column at
 * its next open, as removing the old per-store RocksDB directory did.
 */

/** The pieces of @nxtedition/rocksdb 12 we use (the package ships no type declarations). */
export interface NativeIterator {
  _nextvSync(size: number, options?: object): { rows: Buffer[]; finished: boolean };
  _closeSync(): void;
}
export interface NativeBatch {
  _put(key: Buffer, value: Buffer, options?: object): void;
  _del(key: Buffer, options?: object): void;
  _writeSync(options: { sync?: boolean }): void;
  _closeSync(): void;
}
export interface NativeDb {
  open(): Promise<void>;
  close(): Promise<void>;
  readonly status: string;
  readonly columns: Record<string, unknown>;
  _getManySync(keys: Buffer[], options?: object): (Buffer | undefined | null)[];
  _chainedBatch(): NativeBatch;
  /**
   * abstract-level's registry of open batches and iterators, which db.close() closes. Only its
   * async close() unregisters one: a batch or iterator closed with _closeSync() must be detached,
   * or the Set keeps it, and with it the native WriteBatch or iterator, for the life of the database.
   */
  detachResource(resource: object): void;
  iterator(options: Record<string, unknown>): NativeIterator;
  clear(options: Record<string, unknown>): Promise<void>;
}
interface RocksModule {
  RocksLevel: new (location: string, options?: object) => NativeDb;
}

const require = createRequire(import.meta.url);
const { RocksLevel } = require('@nxtedition/rocksdb') as RocksModule;

/** The RocksDB of a task directory. Store names never contain '@' (state/Stores.ts). */
export const TASK_DATABASE_DIR = '@rocksdb';
const DEFAULT_COLUMN = 'default';

/** Column options from the memory budget (state/StoreMemory.ts). */
function columnOptions(): Record<string, unknown> {
  const memory = storeMemory();
  // 'level' makes the binding size the write buffer from memtableMemoryBudget (budget / 4);
  // without it every column gets RocksDB's 64 MB default and a WAL preallocated to match. It also
  // compresses levels >= 2 with ZSTD; `compression: false` only leaves out the binding's trained
  // 16 KB dictionary, whose training (divsufsort over 1.6 MB of samples per compaction output)
  // cost the background threads ~4 µs per event (BENCHMARKS.md, "RocksDB without dictionary training").
  return { compaction: 'level', compression: false, memtableMemoryBudget: memory.memtableBudgetBytes, cacheSize: memory.blockCacheBytes };
}

/** The unused default column: smallest buffers, no block cache. */
const DEFAULT_COLUMN_OPTIONS = { compaction: 'level', compression: false, memtableMemoryBudget: 512 * 1024, cacheSize: 0 };

export class TaskDatabase {
  private native: NativeDb | undefined;
  private handles: Record<string, unknown> = {};
  private readonly holders = new Map<string, number>();

  private constructor(readonly location: string) {}

  get db(): NativeDb {
    if (!this.native) throw new Error(`RocksDB at ${this.location} is not open`);
    return this.native;
  }

  /** The native column handle of a store (read at each call: a reopen replaces it). */
  column(name: string): unknown {
    const handle = this.handles[name];
    if (handle === undefined) throw new Error(`RocksDB at ${this.location} has no column "${name}"`);
    return handle;
  }

  /** Closes an iterator opened on this database and lets it go (see NativeDb.detachResource). */
  closeIterator(iterator: NativeIterator): void {
    iterator._closeSync();
    this.db.detachResource(iterator);
  }

  isColumnEmpty(name: string): boolean {
    const iterator = this.db.iterator({ column: this.column(name), keys: true, values: false, limit: 1, keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      return iterator._nextvSync(1).rows.length === 0;
    } finally {
      this.closeIterator(iterator);
    }
  }

  /** Deletes every key of a column (one range delete; the space returns at compaction). */
  async clearColumn(name: string): Promise<void> {
    await this.db.clear({ column: this.column(name) });
  }

  private async openWith(columns: Set<string>): Promise<void> {
    const options = columnOptions();
    const spec: Record<string, object> = { [DEFAULT_COLUMN]: DEFAULT_COLUMN_OPTIONS };
    for (const name of columns) if (name !== DEFAULT_COLUMN) spec[name] = options;
    const db = new RocksLevel(this.location, { ...DEFAULT_COLUMN_OPTIONS, walCompression: false, columns: spec });
    await db.open();
    this.native = db;
    this.handles = db.columns;
  }

  private async closeNative(): Promise<void> {
    const db = this.native;
    this.native = undefined;
    this.handles = {};
    if (db && db.status === 'open') await db.close();
  }

  private static readonly open = new Map<string, TaskDatabase>();
  private static readonly queues = new Map<string, Promise<unknown>>();
  private static readonly expected = new Map<string, Set<string>>();

  /**
   * The columns the stores about to open in dir will ask for: the database's first open (or a
   * reopen) declares them all, instead of reopening once per new store. A fresh task of the
   * default pipeline (5 stores) opened its database 5 times and closed it 4.
   */
  static expectColumns(dir: string, columns: readonly string[]): void {
    TaskDatabase.expected.set(join(dir, TASK_DATABASE_DIR), new Set(columns));
  }

  /** The columns an open of location declares: those it has, the ones expected there, and store's. */
  private static withWanted(location: string, columns: Set<string>, store: string): Set<string> {
    for (const column of TaskDatabase.expected.get(location) ?? []) columns.add(column);
    return columns.add(store);
  }

  /** Runs fn after every earlier open/close of the same directory. */
  private static serial<T>(location: string, fn: () => Promise<T>): Promise<T> {
    const previous = TaskDatabase.queues.get(location) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    TaskDatabase.queues.set(
      location,
      next.catch(() => undefined),
    );
    return next;
  }

  /**
   * The task database of dir with a column for store, opened or reopened as needed. The caller
   * owns one hold on the column until release().
   */
  static acquire(dir: string, store: string): Promise<TaskDatabase> {
    const location = join(dir, TASK_DATABASE_DIR);
    return TaskDatabase.serial(location, async () => {
      await mkdir(location, { recursive: true });
      const marker = join(dir, store);
      const wiped = !(await isDirectory(marker));
      if (!wiped) await removeLegacyStore(marker);
      let database = TaskDatabase.open.get(location);
      if (!database) {
        database = new TaskDatabase(location);
        await database.openWith(TaskDatabase.withWanted(location, await existingColumns(location), store));
        TaskDatabase.open.set(location, database);
      } else if (database.handles[store] === undefined) {
        const columns = TaskDatabase.withWanted(location, new Set(Object.keys(database.handles)), store);
        await database.closeNative();
        await database.openWith(columns);
      }
      if (wiped) {
        // No marker: a new store, or its state was discarded by removing the directory.
        if (!database.isColumnEmpty(store)) await database.clearColumn(store);
        await mkdir(marker, { recursive: true });
      }
      database.holders.set(store, (database.holders.get(store) ?? 0) + 1);
      return database;
    });
  }

  /** Drops one hold; the database closes when no store holds it. */
  release(store: string): Promise<void> {
    return TaskDatabase.serial(this.location, async () => {
      const count = (this.holders.get(store) ?? 0) - 1;
      if (count > 0) this.holders.set(store, count);
      else this.holders.delete(store);
      if (this.holders.size === 0 && TaskDatabase.open.get(this.location) === this) {
        TaskDatabase.open.delete(this.location);
        TaskDatabase.expected.delete(this.location);
        await this.closeNative();
      }
    });
  }

  /** Stores and task databases open right now (the memory plan divides by them). */
  static openColumns(): number {
    let count = 0;
    for (const database of TaskDatabase.open.values()) count += Object.keys(database.handles).length - 1;
    return count;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Before column families each store had its own RocksDB in <task dir>/<store>. Its state is
 * restored from the changelog like a lost one; removing the old files frees their preallocation.
 */
async function removeLegacyStore(marker: string): Promise<void> {
  const entries = await readdir(marker);
  if (entries.length === 0) return;
  await rm(marker, { recursive: true, force: true });
  // A global store's read positions (topology/runtime/GlobalStateUpdater.ts) describe the state
  // just removed: without them the table is read again from the beginning.
  await rm(`${marker}.positions.json`, { force: true });
  await mkdir(marker, { recursive: true });
}

/**
 * The column families a database has on disk, from its newest OPTIONS file (RocksDB refuses an
 * open that omits one, and the binding cannot list them).
 */
async function existingColumns(location: string): Promise<Set<string>> {
  const columns = new Set<string>();
  let newest: string | undefined;
  for (const name of await readdir(location)) {
    if (/^OPTIONS-\d+$/.test(name) && (!newest || Number(name.slice(8)) > Number(newest.slice(8)))) newest = name;
  }
  if (!newest) return columns;
  const text = await readFile(join(location, newest), 'utf8');
  for (const match of text.matchAll(/^\[CFOptions "(.*)"\]$/gm)) columns.add(match[1]!);
  return columns;
}

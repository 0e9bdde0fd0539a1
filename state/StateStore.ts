import type { LogRecord, ProducerRecord } from '../log/Log.js';

/**
 * What processors see. Reads are synchronous (RocksDB point reads and iterators have sync
 * bindings, and a per-record await would cost more than the read); writes go to an in-memory
 * write buffer that the task commits, so a store never holds uncommitted data on disk.
 *
 * Values are immutable once put: the buffer keeps the object with its bytes, and reads until
 * the commit return that same object (no deserialization). A processor that wants a different
 * value builds a new object and puts it; mutating a value it put, or one a read returned,
 * would change what later reads see without changing the changelog.
 */
export interface StateStore {
  readonly name: string;
}

export interface KeyValue<K, V> {
  key: K;
  value: V;
}

export interface KeyValueStore<K, V> extends StateStore {
  get(key: K): V | undefined;
  put(key: K, value: V): void;
  delete(key: K): void;
  /** Entries with from <= serialized key <= to, in serialized-key order. */
  range(from: K, to: K): KeyValue<K, V>[];
  all(): KeyValue<K, V>[];
  approximateNumEntries(): number;
}

/**
 * A key-value store that reads several keys in one call: the RocksDB stores make one multi-get
 * of the keys that neither their write buffer nor their read cache holds, about half the cost
 * per key of point reads one by one. For a processor that can defer its reads to one moment,
 * e.g. to its commit (PreAggregator's distinct members). Not in Kafka Streams' store API.
 */
export interface MultiGetKeyValueStore<K, V> extends KeyValueStore<K, V> {
  /** The value of each key, in order, as get() would return it. */
  getMany(keys: readonly K[]): (V | undefined)[];
}

/** store.getMany(keys) when the store has it, one get() per key otherwise. */
export function getMany<K, V>(store: KeyValueStore<K, V>, keys: readonly K[]): (V | undefined)[] {
  const multi = (store as Partial<MultiGetKeyValueStore<K, V>>).getMany;
  return multi !== undefined ? multi.call(store, keys) : keys.map((key) => store.get(key));
}

/**
 * A key-value store with entries derived from its changelogged ones: written to the local store
 * with the commit (atomically, with the checkpoint) but never to the changelog, and rebuilt from
 * the changelogged entries when the store is restored (the builder's indexOnRestore). For a
 * secondary index, e.g. dedupe's expiry index: one changelog record per id instead of two.
 * A derived entry may outlive its source after a restore (the restore does not know what a
 * tombstone's old value indexed): readers check the source entry, as an index lookup would.
 */
export interface IndexedKeyValueStore<K, V> extends KeyValueStore<K, V> {
  putUnlogged(key: K, value: V): void;
  deleteUnlogged(key: K): void;
}

export interface WindowedKey<K> {
  key: K;
  windowStart: number;
}

export interface WindowStore<K, V> extends StateStore {
  readonly windowSizeMs: number;
  /** Windows older than stream time - retentionMs are dropped (and never restored). */
  readonly retentionMs: number;
  put(key: K, value: V, windowStart: number): void;
  fetch(key: K, windowStart: number): V | undefined;
  /** Windows of one key whose start lies in [timeFrom, timeTo], oldest first. */
  fetchRange(key: K, timeFrom: number, timeTo: number): KeyValue<WindowedKey<K>, V>[];
  /** Windows of every key whose start lies in [timeFrom, timeTo]. */
  fetchAll(timeFrom: number, timeTo: number): KeyValue<WindowedKey<K>, V>[];
}

/**
 * The runtime's side of a store (Kafka Streams' StateStore lifecycle + ProcessorStateManager
 * duties), one instance per store per task.
 *
 * Commit protocol, in Quix Streams' checkpoint order:
 *   1. runtime calls drainChangelog() and puts those records in the commit's transaction
 *      (changelog topic `<appId>-<store>-changelog`, partition = task partition);
 *   2. the transaction commits (outputs + changelog + input offsets, atomically);
 *   3. runtime calls flush(changelogEndOffset): the buffered writes and the checkpoint are written
 *      to RocksDB in one batch.
 * A crash between 2 and 3 leaves the local checkpoint behind the changelog; restore replays the
 * difference on the next start.
 */
export interface StoreLifecycle {
  readonly name: string;
  readonly changelogTopic: string;
  /**
   * Opens (creating when missing) the local RocksDB under dir; returns the checkpointed changelog offset, undefined when none.
   * The RocksDB stores (state/) keep it in dir/<store name>, and wipe a database that has no checkpoint
   * (its data has no changelog position), so undefined always means an empty store.
   */
  open(dir: string): Promise<number | undefined>;
  /**
   * The column family the store keeps in its task's RocksDB (state/TaskDatabase.ts); absent for a
   * store that keeps nothing there. A task declares its stores' columns before opening them.
   */
  readonly taskDatabaseColumn?: string;
  /** Applies changelog records during restore (value null deletes). */
  restore(records: LogRecord[]): Promise<void>;
  /** Called after the last restore batch with the changelog offset restored up to. */
  finishRestore(changelogOffset: number): Promise<void>;
  /** Changelog records for the writes since the last drain, each carrying `source_offset` header. */
  drainChangelog(partition: number, sourceOffsetHeader: string): ProducerRecord[];
  /**
   * Writes what the last drainChangelog() calls returned, plus the checkpoint, atomically. Writes made
   * after the last drain stay buffered for the next commit. flush(undefined) with nothing drained is a no-op.
   */
  flush(changelogOffset: number | undefined): Promise<void>;
  /** Stream time moved: window stores drop expired windows. */
  advanceStreamTime?(streamTime: number): void;
  close(): Promise<void>;
}

import type { LogRecord, ProducerRecord, RecordHeaders } from '../log/Log.js';
import type { StoreLifecycle } from './StateStore.js';
import type { Serde } from './Serde.js';
import { RocksDBEngine, type EngineBatch } from './RocksDBEngine.js';
import { CHECKPOINT_KEY, Keyspace, decodeNumber, encodeNumber, inKeyspace, keyspaceRange } from './StoreKeyspace.js';
import { WriteBuffer, type BufferedWrite } from './WriteBuffer.js';
import { StoreCounters } from './StoreMetrics.js';
import { NOT_DECODED, ReadCache, ReadCachePool } from './ReadCache.js';
import { storeMemory } from './StoreMemory.js';
import { TaskDatabase } from './TaskDatabase.js';
import { StoreKeyFilter } from './StoreKeyFilter.js';

export interface ChangelogBackedStoreOptions {
  name: string;
  changelogTopic: string;
  /** Shared counters (StoreMetrics.for(registry).counters(name)); private ones when absent. */
  counters?: StoreCounters;
  /** Changelog records per RocksDB write batch during restore. Default 10 000. */
  restoreBatchSize?: number;
  /** fsync the WAL on each flush. Off by default: the changelog is the durable copy, and a
   *  lost flush only means restoring a little more on the next start. */
  syncWrites?: boolean;
  /** Committed values kept in an LRU read cache (absence included). Default from the memory budget (state/StoreMemory.ts); 0 disables. */
  readCacheEntries?: number;
  /**
   * Keep a Bloom filter of the stored keys (state/KeyFilter.ts) so reads of absent keys skip
   * RocksDB: for stores read mostly for keys they do not hold (dedupe ids, distinct-member
   * markers). Costs ~1.25-10 bytes per stored key, within the memory plan's share, and key scans
   * in the background from the first read after open and whenever the filter fills
   * (state/StoreKeyFilter.ts: until one completes, RocksDB answers). { prefix }: only keys
   * starting with it (an id string, latin1 of the serialized key) are filtered; reads of others
   * always go to RocksDB, and the filter neither holds nor scans them (dedupe's expiry index is
   * never read by key).
   */
  keyFilter?: boolean | { prefix: string };
}

export const DEFAULT_RESTORE_BATCH_SIZE = 10_000;

/** heldValue(): neither the write buffer, the read cache nor the key filter knows the key. */
const NOT_HELD = Symbol('not held');

/**
 * The read caches of this thread's stores share the entries the memory plan gives them all:
 * readCacheEntries per store open here (the thread's task databases' columns).
 */
const readCachePool = new ReadCachePool(() => storeMemory().readCacheEntries * TaskDatabase.openColumns());

/**
 * The change-logging and checkpointing layers over one RocksDB, shared by the key-value and
 * window stores (which decide only how a buffered write becomes RocksDB keys).
 *
 * Invariant: RocksDB holds exactly the state at its checkpoint. Data and checkpoint are only
 * ever written in the same atomic batch (flush, each restore batch, finishRestore), so a crash
 * at any point leaves a matching pair. A database without a checkpoint has no defined
 * position in the changelog, so open() wipes it (Kafka Streams does the same under EOS).
 */
export abstract class ChangelogBackedStore implements StoreLifecycle {
  readonly name: string;
  readonly changelogTopic: string;
  protected readonly buffer = new WriteBuffer();
  protected readonly counters: StoreCounters;
  protected readonly readCache: ReadCache;
  private readonly restoreBatchSize: number;
  private readonly syncWrites: boolean;
  /** Built in the background from the first read that needs it (after open and restore), rebuilt once full. */
  private readonly keyFilter: StoreKeyFilter | undefined;
  private engineOrUndefined: RocksDBEngine | undefined;
  private restoreStartedAt: bigint | undefined;

  protected constructor(options: ChangelogBackedStoreOptions) {
    this.name = options.name;
    this.changelogTopic = options.changelogTopic;
    this.counters = options.counters ?? new StoreCounters();
    this.restoreBatchSize = options.restoreBatchSize ?? DEFAULT_RESTORE_BATCH_SIZE;
    this.syncWrites = options.syncWrites ?? false;
    const keyFilterPrefix = typeof options.keyFilter === 'object' ? options.keyFilter.prefix : options.keyFilter ? '' : undefined;
    this.keyFilter = keyFilterPrefix === undefined ? undefined : new StoreKeyFilter(keyFilterPrefix, this.counters);
    this.readCache = new ReadCache(options.readCacheEntries ?? storeMemory().readCacheEntries, readCachePool);
  }

  protected get engine(): RocksDBEngine {
    if (!this.engineOrUndefined) throw new Error(`store "${this.name}" is not open`);
    return this.engineOrUndefined;
  }

  /**
   * The newest value of a changelog key as processors see it: buffered writes first, then the
   * read cache, then RocksDB. undefined when absent or deleted.
   */
  protected readLatest(key: Buffer, id = key.toString('latin1')): Buffer | undefined {
    const buffered = this.buffer.lookupId(id);
    if (buffered) return buffered.value ?? undefined;
    const cached = this.readCache.get(id);
    if (cached !== undefined) return cached.bytes ?? undefined;
    if (this.keyFilter !== undefined && !this.mayBeStored(id, this.keyFilter)) return undefined;
    const stored = this.engine.get(inKeyspace(Keyspace.Data, key));
    this.readCache.remember(id, stored ?? null);
    return stored;
  }

  /**
   * readLatest(), deserialized: a buffered write that kept its value object returns that object,
   * a read cache entry the value it decoded on an earlier read (no parse either way); anything
   * else is deserialized from its bytes. key may be left out (undefined): the RocksDB key is then
   * made from id, and only when RocksDB is read.
   */
  protected readLatestValue<V>(key: Buffer | undefined, id: string, serde: Serde<V>): V | undefined {
    const held = this.heldValue(id, serde);
    if (held !== NOT_HELD) return held;
    const stored = this.engine.get(inKeyspace(Keyspace.Data, key ?? Buffer.from(id, 'latin1')));
    const value = stored === undefined ? undefined : serde.deserialize(stored);
    this.readCache.remember(id, stored ?? null, value);
    return value;
  }

  /**
   * readLatestValue() of several ids, in order, with ONE RocksDB multi-get for those that neither
   * the write buffer, the read cache nor the key filter answer: per key it costs about half a
   * point read (BENCHMARKS.md, "Distinct members read at the commit").
   */
  protected readLatestValues<V>(ids: readonly string[], serde: Serde<V>): (V | undefined)[] {
    const values = new Array<V | undefined>(ids.length);
    const unheld: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const held = this.heldValue(ids[i]!, serde);
      if (held === NOT_HELD) unheld.push(i);
      else values[i] = held;
    }
    if (unheld.length === 0) return values;
    const stored = this.engine.getMany(unheld.map((i) => inKeyspace(Keyspace.Data, Buffer.from(ids[i]!, 'latin1'))));
    for (let j = 0; j < unheld.length; j++) {
      const bytes = stored[j];
      const value = bytes === undefined ? undefined : serde.deserialize(bytes);
      this.readCache.remember(ids[unheld[j]!]!, bytes ?? null, value);
      values[unheld[j]!] = value;
    }
    return values;
  }

  /** The value of id from the write buffer, the read cache or the key filter's "absent"; NOT_HELD when only RocksDB knows. */
  private heldValue<V>(id: string, serde: Serde<V>): V | undefined | typeof NOT_HELD {
    const buffered = this.buffer.lookupId(id);
    if (buffered) {
      if (buffered.value === null) return undefined;
      return buffered.object !== undefined ? (buffered.object as V) : serde.deserialize(buffered.value);
    }
    const cached = this.readCache.get(id);
    if (cached !== undefined) {
      if (cached.bytes === null) return undefined;
      if (cached.decoded === NOT_DECODED) cached.decoded = serde.deserialize(cached.bytes);
      return cached.decoded as V;
    }
    // Not cached as absent: a key the filter rules out would only push hot keys out of the cache.
    if (this.keyFilter !== undefined && !this.mayBeStored(id, this.keyFilter)) return undefined;
    return NOT_HELD;
  }

  /** false: RocksDB certainly does not hold the changelog key id (the key filter says so). */
  private mayBeStored(id: string, filter: StoreKeyFilter): boolean {
    return !id.startsWith(filter.prefix) || filter.mightContain(id, this.engine);
  }

  /** A key now stored in RocksDB: the key filter, and the one being built, must hold it. */
  private noteStoredId(id: string): void {
    const filter = this.keyFilter;
    if (filter !== undefined && filter.takesKeys && id.startsWith(filter.prefix)) filter.noteStored(id);
  }

  /** noteStoredId() for subclasses' restoreRecord, which write to RocksDB outside flush. */
  protected noteStoredKey(key: Buffer): void {
    if (this.keyFilter?.takesKeys) this.noteStoredId(key.toString('latin1'));
  }

  /** Resolves when no key filter build is running (tests and benches wait for the filter with it). */
  keyFilterSettled(): Promise<void> {
    return this.keyFilter?.settled() ?? Promise.resolve();
  }

  /** Writes fail fast on a closed store rather than at the next commit. */
  protected assertOpen(): void {
    if (!this.engineOrUndefined) throw new Error(`store "${this.name}" is not open`);
  }

  get isOpen(): boolean {
    return this.engineOrUndefined !== undefined;
  }

  get taskDatabaseColumn(): string {
    return this.name;
  }

  /**
   * The store's data is a column family of the task directory's RocksDB (state/TaskDatabase.ts),
   * so the stores of one task share one database; dir/<store name> marks the store (removing it
   * discards the store's state at the next open).
   */
  async open(dir: string): Promise<number | undefined> {
    if (this.engineOrUndefined) throw new Error(`store "${this.name}" is already open`);
    const engine = await RocksDBEngine.open(dir, this.name);
    const checkpoint = decodeNumber(engine.get(CHECKPOINT_KEY));
    if (checkpoint === undefined && !isEmpty(engine)) await engine.clear();
    this.engineOrUndefined = engine;
    this.buffer.clear();
    this.readCache.clear();
    this.keyFilter?.reset();
    this.onOpen();
    this.restoreStartedAt = process.hrtime.bigint();
    return checkpoint;
  }

  /**
   * Writes changelog records straight to RocksDB, restoreBatchSize per write batch, each batch
   * carrying the checkpoint of its last record: an interrupted restore resumes where it stopped.
   */
  async restore(records: LogRecord[]): Promise<void> {
    const engine = this.engine;
    // Restore writes past the cache (global tables are restored while processors read them).
    this.readCache.clear();
    let batch = engine.batch();
    let pendingRecords = 0;
    try {
      for (let i = 0; i < records.length; i++) {
        const record = records[i];
        if (record.key !== null) this.restoreRecord(batch, record.key, record.value, record.headers);
        if (++pendingRecords >= this.restoreBatchSize || i === records.length - 1) {
          batch.put(CHECKPOINT_KEY, encodeNumber(record.offset + 1));
          batch.write();
          batch = engine.batch();
          pendingRecords = 0;
        }
      }
    } finally {
      batch.discard();
    }
    this.counters.restoreRecords += records.length;
  }

  async finishRestore(changelogOffset: number): Promise<void> {
    const batch = this.engine.batch();
    this.beforeCheckpoint(batch, true);
    batch.put(CHECKPOINT_KEY, encodeNumber(changelogOffset));
    batch.write(this.syncWrites);
    if (this.restoreStartedAt !== undefined) {
      const seconds = Number(process.hrtime.bigint() - this.restoreStartedAt) / 1e9;
      this.counters.restoreSeconds += seconds;
      this.counters.lastRestoreSeconds = seconds;
      this.restoreStartedAt = undefined;
    }
  }

  drainChangelog(partition: number, sourceOffsetHeader: string): ProducerRecord[] {
    const writes = this.buffer.drain();
    this.onDrain();
    const extra = this.changelogHeaders();
    // A headers object per record: the log or the runtime may add to one record's headers.
    return writes.map((write) => ({
      topic: this.changelogTopic,
      partition,
      key: write.key,
      value: write.value,
      headers: { source_offset: sourceOffsetHeader, ...extra },
    }));
  }

  /**
   * Writes the drained writes and the checkpoint in one batch. Writes made after the last drain
   * stay buffered (they are not in the committed changelog yet). flush(undefined) with writes to
   * persist removes the checkpoint: the data then has no changelog position, and the next
   * open() starts from an empty store.
   */
  async flush(changelogOffset: number | undefined): Promise<void> {
    const writes = this.buffer.takeDrained();
    if (changelogOffset === undefined && writes.length === 0) return;
    const batch = this.engine.batch();
    try {
      this.persistWrites(batch, writes);
      this.beforeCheckpoint(batch, false);
      if (changelogOffset === undefined) batch.delete(CHECKPOINT_KEY);
      else batch.put(CHECKPOINT_KEY, encodeNumber(changelogOffset));
    } catch (err) {
      batch.discard();
      throw err;
    }
    batch.write(this.syncWrites);
    for (const write of writes) {
      const id = write.key.toString('latin1');
      this.readCache.update(id, write.value);
      if (write.value !== null) this.noteStoredId(id);
    }
  }

  /** Buffered (uncommitted) writes are dropped: after a reopen the store is at its checkpoint. */
  async close(): Promise<void> {
    this.buffer.clear();
    this.readCache.clear();
    this.keyFilter?.reset();
    const engine = this.engineOrUndefined;
    this.engineOrUndefined = undefined;
    await engine?.close();
  }

  /** Reads store metadata after open (window stores: their stream time). */
  protected onOpen(): void {}

  /** Captures what the next flush must know about the drained generation. */
  protected onDrain(): void {}

  /** Extra headers on every changelog record of a drain. */
  protected changelogHeaders(): RecordHeaders {
    return {};
  }

  /** Adds ops that belong with the checkpoint (window stores: retention deletes, stream time). */
  protected beforeCheckpoint(_batch: EngineBatch, _afterRestore: boolean): void {}

  /** Turns drained writes into RocksDB ops. */
  protected abstract persistWrites(batch: EngineBatch, writes: BufferedWrite[]): void;

  /** Applies one changelog record (value null deletes). */
  protected abstract restoreRecord(batch: EngineBatch, key: Buffer, value: Buffer | null, headers: RecordHeaders): void;
}

function isEmpty(engine: RocksDBEngine): boolean {
  for (const _entry of engine.scan({ gte: keyspaceRange(Keyspace.Meta).gte, limit: 1 })) return false;
  return true;
}

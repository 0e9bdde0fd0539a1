import type { RecordHeaders } from '../log/Log.js';
import type { IndexedKeyValueStore, KeyValue, MultiGetKeyValueStore } from './StateStore.js';
import type { Serde } from './Serde.js';
import type { EngineBatch } from './RocksDBEngine.js';
import { ChangelogBackedStore, type ChangelogBackedStoreOptions } from './ChangelogBackedStore.js';
import { Keyspace, inKeyspace, keyspaceRange } from './StoreKeyspace.js';
import { overlay, type BufferedWrite } from './WriteBuffer.js';

export interface RocksDBKeyValueStoreOptions<K, V> extends ChangelogBackedStoreOptions {
  keySerde: Serde<K>;
  valueSerde: Serde<V>;
  /** The unlogged entry a changelogged one implies (IndexedKeyValueStore), rebuilt on restore. */
  indexOnRestore?: (key: K, value: V) => KeyValue<K, V> | undefined;
}

/**
 * A key-value store: serialized key → serialized value, the changelog key being the serialized
 * key itself. Reads go buffer first, then RocksDB (sync point reads and iterators).
 */
export class RocksDBKeyValueStore<K, V> extends ChangelogBackedStore implements IndexedKeyValueStore<K, V>, MultiGetKeyValueStore<K, V> {
  private readonly keySerde: Serde<K>;
  private readonly valueSerde: Serde<V>;
  private readonly indexOnRestore: ((key: K, value: V) => KeyValue<K, V> | undefined) | undefined;

  constructor(options: RocksDBKeyValueStoreOptions<K, V>) {
    super(options);
    this.keySerde = options.keySerde;
    this.valueSerde = options.valueSerde;
    this.indexOnRestore = options.indexOnRestore;
  }

  get(key: K): V | undefined {
    this.counters.gets++;
    const text = this.textIdOf(key);
    if (text !== undefined) return this.readLatestValue(undefined, text, this.valueSerde);
    // Serialized once: the bytes are the RocksDB key if the read goes on to RocksDB.
    const bytes = this.keySerde.serialize(key);
    return this.readLatestValue(bytes, bytes.toString('latin1'), this.valueSerde);
  }

  /** get() of each key, in order, with one RocksDB multi-get for the keys only RocksDB holds (MultiGetKeyValueStore). */
  getMany(keys: readonly K[]): (V | undefined)[] {
    this.counters.gets += keys.length;
    return this.readLatestValues(
      keys.map((key) => this.textIdOf(key) ?? this.keySerde.serialize(key).toString('latin1')),
      this.valueSerde,
    );
  }

  /**
   * A key whose serialized form is ASCII text (string keys, as the DSL's are) is its own latin1
   * id: no Buffer and no second string per read, unless the read goes on to RocksDB. Undefined
   * for other keys, whose id is the latin1 of their serialized bytes.
   */
  private textIdOf(key: K): string | undefined {
    const text = this.keySerde.toText?.(key);
    return text !== undefined && ASCII.test(text) ? text : undefined;
  }

  /**
   * A null or undefined value deletes, as in Kafka Streams. The value is serialized now (a value
   * that cannot be serialized fails the record that put it, not the commit) and kept for reads
   * until the commit: the caller must not mutate it afterwards.
   */
  put(key: K, value: V): void {
    if (value === null || value === undefined) return this.delete(key);
    this.assertOpen();
    this.counters.puts++;
    this.buffer.write(this.keySerde.serialize(key), this.valueSerde.serialize(value), value);
  }

  delete(key: K): void {
    this.assertOpen();
    this.counters.deletes++;
    this.buffer.write(this.keySerde.serialize(key), null);
  }

  /** Stored with the commit, never changelogged: see IndexedKeyValueStore. */
  putUnlogged(key: K, value: V): void {
    if (value === null || value === undefined) return this.deleteUnlogged(key);
    this.assertOpen();
    this.counters.puts++;
    this.buffer.writeUnlogged(this.keySerde.serialize(key), this.valueSerde.serialize(value));
  }

  deleteUnlogged(key: K): void {
    this.assertOpen();
    this.counters.deletes++;
    this.buffer.writeUnlogged(this.keySerde.serialize(key), null);
  }

  range(from: K, to: K): KeyValue<K, V>[] {
    const lo = this.keySerde.serialize(from);
    const hi = this.keySerde.serialize(to);
    if (Buffer.compare(lo, hi) > 0) return [];
    const buffered = this.buffer.sortedRange(lo, hi);
    return this.collect(this.scanData({ gte: inKeyspace(Keyspace.Data, lo), lte: inKeyspace(Keyspace.Data, hi) }), buffered);
  }

  all(): KeyValue<K, V>[] {
    return this.collect(this.scanData(keyspaceRange(Keyspace.Data)), this.buffer.sorted(() => true));
  }

  /** RocksDB's estimate of stored keys plus the buffered writes (a put of a new key counts once). */
  approximateNumEntries(): number {
    // The checkpoint is one of RocksDB's keys; the estimate never counts the buffer's overlap.
    return Math.max(0, this.engine.estimateNumKeys() - 1) + this.buffer.size;
  }

  protected persistWrites(batch: EngineBatch, writes: BufferedWrite[]): void {
    for (const write of writes) writeEntry(batch, write.key, write.value);
  }

  protected restoreRecord(batch: EngineBatch, key: Buffer, value: Buffer | null, _headers?: RecordHeaders): void {
    writeEntry(batch, key, value);
    if (value === null) return;
    this.noteStoredKey(key);
    if (this.indexOnRestore === undefined) return;
    const derived = this.indexOnRestore(this.keySerde.deserialize(key), this.valueSerde.deserialize(value));
    if (derived === undefined) return;
    const derivedKey = this.keySerde.serialize(derived.key);
    writeEntry(batch, derivedKey, this.valueSerde.serialize(derived.value));
    this.noteStoredKey(derivedKey);
  }

  private *scanData(range: { gte: Buffer; lte?: Buffer; lt?: Buffer }): Generator<[Buffer, Buffer]> {
    for (const [key, value] of this.engine.scan(range)) yield [key.subarray(1), value];
  }

  private collect(stored: Iterable<[Buffer, Buffer]>, buffered: BufferedWrite[]): KeyValue<K, V>[] {
    const out: KeyValue<K, V>[] = [];
    for (const [key, value] of overlay(stored, buffered)) {
      out.push({ key: this.keySerde.deserialize(key), value: this.valueSerde.deserialize(value) });
    }
    return out;
  }
}

/**
 * Text whose UTF-8 bytes are its chars, so (by Serde.toText's contract) the serialized key's
 * latin1 id is the text itself. Printable ASCII only: keys with control chars take the long way.
 */
const ASCII = /^[ -~]*$/;

function writeEntry(batch: EngineBatch, key: Buffer, value: Buffer | null): void {
  const dataKey = inKeyspace(Keyspace.Data, key);
  if (value === null) batch.delete(dataKey);
  else batch.put(dataKey, value);
}

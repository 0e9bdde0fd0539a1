import type { LogRecord, ProducerRecord } from '../log/Log.js';
import type { KeyValue, KeyValueStore, StoreLifecycle } from './StateStore.js';
import type { Serde } from './Serde.js';

export interface InMemoryKeyValueStoreOptions<K, V> {
  name: string;
  changelogTopic: string;
  keySerde: Serde<K>;
  valueSerde: Serde<V>;
  /** false: no changelog records (withLoggingDisabled); the state is lost with the process. */
  loggingEnabled?: boolean;
}

interface Entry {
  key: Buffer;
  bytes: Buffer;
  /** The object put (or decoded on a read): values are immutable once put (StateStore.ts). */
  value: unknown;
}

interface Change {
  key: Buffer;
  value: Buffer | null;
}

/**
 * A key-value store in JS memory (Kafka Streams' Stores.inMemoryKeyValueStore). Writes apply at
 * once; the changelog records of the writes since the last commit are handed to the commit's
 * transaction. It keeps nothing on disk, so open() always reports no checkpoint and the runtime
 * restores it from the start of its changelog: the changelog is its only durable copy.
 */
export class InMemoryKeyValueStore<K, V> implements KeyValueStore<K, V>, StoreLifecycle {
  readonly name: string;
  readonly changelogTopic: string;
  readonly loggingEnabled: boolean;
  private readonly keySerde: Serde<K>;
  private readonly valueSerde: Serde<V>;
  private readonly data = new Map<string, Entry>();
  /** Changes since the last drain, last write per key wins (as the changelog compacts). */
  private pending = new Map<string, Change>();
  private open_ = false;

  constructor(options: InMemoryKeyValueStoreOptions<K, V>) {
    this.name = options.name;
    this.changelogTopic = options.changelogTopic;
    this.keySerde = options.keySerde;
    this.valueSerde = options.valueSerde;
    this.loggingEnabled = options.loggingEnabled ?? true;
  }

  get(key: K): V | undefined {
    const entry = this.data.get(this.keySerde.serialize(key).toString('latin1'));
    return entry === undefined ? undefined : this.valueOf(entry);
  }

  put(key: K, value: V): void {
    if (value === null || value === undefined) return this.delete(key);
    this.assertOpen();
    const keyBytes = this.keySerde.serialize(key);
    const id = keyBytes.toString('latin1');
    const bytes = this.valueSerde.serialize(value);
    this.data.set(id, { key: keyBytes, bytes, value });
    if (this.loggingEnabled) this.pending.set(id, { key: keyBytes, value: bytes });
  }

  delete(key: K): void {
    this.assertOpen();
    const keyBytes = this.keySerde.serialize(key);
    const id = keyBytes.toString('latin1');
    this.data.delete(id);
    if (this.loggingEnabled) this.pending.set(id, { key: keyBytes, value: null });
  }

  range(from: K, to: K): KeyValue<K, V>[] {
    const lo = this.keySerde.serialize(from);
    const hi = this.keySerde.serialize(to);
    return this.sorted().filter((e) => Buffer.compare(e.key, lo) >= 0 && Buffer.compare(e.key, hi) <= 0).map((e) => this.keyValueOf(e));
  }

  all(): KeyValue<K, V>[] {
    return this.sorted().map((e) => this.keyValueOf(e));
  }

  approximateNumEntries(): number {
    return this.data.size;
  }

  /** Nothing on disk: the state always comes back from the changelog. */
  open(_dir: string): Promise<number | undefined> {
    this.data.clear();
    this.pending.clear();
    this.open_ = true;
    return Promise.resolve(undefined);
  }

  restore(records: LogRecord[]): Promise<void> {
    for (const record of records) {
      if (record.key === null) continue;
      const id = record.key.toString('latin1');
      if (record.value === null) this.data.delete(id);
      else this.data.set(id, { key: record.key, bytes: record.value, value: undefined });
    }
    return Promise.resolve();
  }

  finishRestore(_changelogOffset: number): Promise<void> {
    return Promise.resolve();
  }

  drainChangelog(partition: number, sourceOffsetHeader: string): ProducerRecord[] {
    const changes = [...this.pending.values()];
    this.pending = new Map();
    return changes.map((change) => ({
      topic: this.changelogTopic,
      partition,
      key: change.key,
      value: change.value,
      headers: { source_offset: sourceOffsetHeader },
    }));
  }

  /** The data is already in memory; the changelog (committed by the runtime) is the durable copy. */
  flush(_changelogOffset: number | undefined): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.open_ = false;
    this.data.clear();
    this.pending.clear();
    return Promise.resolve();
  }

  private assertOpen(): void {
    if (!this.open_) throw new Error(`store "${this.name}" is not open`);
  }

  private valueOf(entry: Entry): V {
    if (entry.value === undefined) entry.value = this.valueSerde.deserialize(entry.bytes);
    return entry.value as V;
  }

  private keyValueOf(entry: Entry): KeyValue<K, V> {
    return { key: this.keySerde.deserialize(entry.key), value: this.valueOf(entry) };
  }

  /** Serialized-key order, as the RocksDB store returns ranges. */
  private sorted(): Entry[] {
    return [...this.data.values()].sort((a, b) => Buffer.compare(a.key, b.key));
  }
}

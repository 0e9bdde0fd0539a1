import type { LogRecord, ProducerRecord } from '../../log/Log.js';
import { serializeWithPrefix, type Serde } from '../../state/Serde.js';
import type { KeyValue, KeyValueStore, StoreLifecycle, WindowStore, WindowedKey } from '../../state/StateStore.js';
import { keyValueStore, windowStore, type WindowStoreSpec } from '../../state/Stores.js';
import type { RocksDBKeyValueStore } from '../../state/RocksDBKeyValueStore.js';
import type { RocksDBWindowStore } from '../../state/RocksDBWindowStore.js';
import type { StoreBuilder } from '../../state/StoreBuilder.js';

/**
 * An aggregate and the largest timestamp of the records it holds (Kafka Streams'
 * ValueAndTimestamp): the timestamp an aggregation forwards it with, kept in the store so it
 * survives a restore from the changelog.
 */
export interface ValueAndTimestamp<V> {
  value: V;
  timestamp: number;
}

/** What Kafka Streams gives a value converted from a plain store: no known timestamp. */
export const NO_TIMESTAMP = -1;

/**
 * Stored bytes: 0x00 0x54 ('T'), the timestamp as a big-endian int64, then the value's own bytes.
 * JSON never starts with a NUL byte, so a value written before aggregates carried timestamps
 * (plain JSON) reads back as itself with NO_TIMESTAMP: the next update stamps it with its
 * record's time. Kafka Streams prefixes the bare 8 bytes; ours keeps the two marker bytes so
 * that the old format stays readable (see docs/KAFKA-STREAMS.md).
 */
const MARKER = Buffer.from([0x00, 0x54]);
const HEADER = MARKER.length + 8;

const TWO_32 = 2 ** 32;

export function valueAndTimestampSerde<V>(inner: Serde<V>): Serde<ValueAndTimestamp<V>> {
  return {
    // One buffer: the header, then the value's bytes written in place (one per aggregate update).
    serialize: ({ value, timestamp }) => {
      // As BigInt(timestamp) refused it, a fractional timestamp fails the update (one beyond int64 fails in writeInt32BE).
      if (!Number.isInteger(timestamp)) throw new RangeError(`aggregate timestamp ${timestamp} is not an integer`);
      const bytes = serializeWithPrefix(inner, value, HEADER);
      bytes[0] = MARKER[0]!;
      bytes[1] = MARKER[1]!;
      // int64 big-endian as two 32-bit halves (both exact for an integer double): no BigInt per update.
      const high = Math.floor(timestamp / TWO_32);
      bytes.writeInt32BE(high, MARKER.length);
      bytes.writeUInt32BE(timestamp - high * TWO_32, MARKER.length + 4);
      return bytes;
    },
    deserialize: (bytes) => {
      if (bytes.length >= HEADER && bytes[0] === MARKER[0] && bytes[1] === MARKER[1]) {
        const timestamp = bytes.readInt32BE(MARKER.length) * TWO_32 + bytes.readUInt32BE(MARKER.length + 4);
        return { timestamp, value: inner.deserialize(bytes.subarray(HEADER)) };
      }
      return { timestamp: NO_TIMESTAMP, value: inner.deserialize(bytes) };
    },
  };
}

/**
 * A key-value store of aggregates with their timestamps. Everything else (interactive queries,
 * joins reading a KTable's store, the tests) sees plain values, as Kafka Streams' facades show them.
 */
export interface TimestampedKeyValueStore<K, V> extends KeyValueStore<K, V> {
  getWithTimestamp(key: K): ValueAndTimestamp<V> | undefined;
  putWithTimestamp(key: K, value: V, timestamp: number): void;
}

/**
 * A window store of aggregates with their timestamps, whose stream time (retention) is the
 * stream time of the aggregation that writes it, not the task's: Kafka Streams' segmented
 * stores expire by the window starts written to them, so a window the aggregation still
 * accepts records for is never expired under it.
 */
export interface TimestampedWindowStore<K, V> extends WindowStore<K, V> {
  fetchWithTimestamp(key: K, windowStart: number): ValueAndTimestamp<V> | undefined;
  putWithTimestamp(key: K, value: V, timestamp: number, windowStart: number): void;
  fetchAllWithTimestamp(timeFrom: number, timeTo: number): KeyValue<WindowedKey<K>, ValueAndTimestamp<V>>[];
  /** A key's windows with start in [timeFrom, timeTo], oldest first. */
  fetchRangeWithTimestamp(key: K, timeFrom: number, timeTo: number): KeyValue<WindowedKey<K>, ValueAndTimestamp<V>>[];
  /** The aggregation's stream time, as persisted with the store (restored from disk or changelog). */
  readonly streamTime: number;
  /** Moves the store's stream time (and so its retention) to the aggregation's. */
  observeStreamTime(streamTime: number): void;
}

const unwrap = <V>(stored: ValueAndTimestamp<V> | undefined): V | undefined => stored?.value;
const unwrapAll = <K, V>(entries: KeyValue<K, ValueAndTimestamp<V>>[]): KeyValue<K, V>[] => entries.map(({ key, value }) => ({ key, value: value.value }));

/**
 * The runtime's lifecycle calls, passed to the built store. The facades below are plain classes
 * rather than a Proxy over the store: an aggregation calls fetchWithTimestamp / putWithTimestamp
 * for every record and window, and a proxy's get trap (plus a bound function per access) on
 * each of those calls showed in the default pipeline's profile.
 */
abstract class DelegatingStore<S extends StoreLifecycle> implements StoreLifecycle {
  constructor(protected readonly store: S) {}

  get name(): string {
    return this.store.name;
  }
  get changelogTopic(): string {
    return this.store.changelogTopic;
  }
  open(dir: string): Promise<number | undefined> {
    return this.store.open(dir);
  }
  restore(records: LogRecord[]): Promise<void> {
    return this.store.restore(records);
  }
  finishRestore(changelogOffset: number): Promise<void> {
    return this.store.finishRestore(changelogOffset);
  }
  drainChangelog(partition: number, sourceOffsetHeader: string): ProducerRecord[] {
    return this.store.drainChangelog(partition, sourceOffsetHeader);
  }
  flush(changelogOffset: number | undefined): Promise<void> {
    return this.store.flush(changelogOffset);
  }
  close(): Promise<void> {
    return this.store.close();
  }
}

/** The values of a key-value store of ValueAndTimestamp: plain to readers, with timestamps to aggregations. */
class TimestampedKeyValueFacade<K, V> extends DelegatingStore<RocksDBKeyValueStore<K, ValueAndTimestamp<V>>> implements TimestampedKeyValueStore<K, V> {
  get(key: K): V | undefined {
    return unwrap(this.store.get(key));
  }
  put(key: K, value: V): void {
    this.store.put(key, value === null || value === undefined ? (value as never) : { value, timestamp: NO_TIMESTAMP });
  }
  delete(key: K): void {
    this.store.delete(key);
  }
  range(from: K, to: K): KeyValue<K, V>[] {
    return unwrapAll(this.store.range(from, to));
  }
  all(): KeyValue<K, V>[] {
    return unwrapAll(this.store.all());
  }
  approximateNumEntries(): number {
    return this.store.approximateNumEntries();
  }
  getWithTimestamp(key: K): ValueAndTimestamp<V> | undefined {
    return this.store.get(key);
  }
  putWithTimestamp(key: K, value: V, timestamp: number): void {
    this.store.put(key, { value, timestamp });
  }
}

/** The same for a window store, whose stream time the aggregation moves, not the task. */
class TimestampedWindowFacade<K, V> extends DelegatingStore<RocksDBWindowStore<K, ValueAndTimestamp<V>>> implements TimestampedWindowStore<K, V> {
  get windowSizeMs(): number {
    return this.store.windowSizeMs;
  }
  get retentionMs(): number {
    return this.store.retentionMs;
  }
  get streamTime(): number {
    return this.store.streamTime;
  }
  put(key: K, value: V, windowStart: number): void {
    this.store.put(key, value === null || value === undefined ? null : { value, timestamp: NO_TIMESTAMP }, windowStart);
  }
  fetch(key: K, windowStart: number): V | undefined {
    return unwrap(this.store.fetch(key, windowStart));
  }
  fetchRange(key: K, timeFrom: number, timeTo: number): KeyValue<WindowedKey<K>, V>[] {
    return unwrapAll(this.store.fetchRange(key, timeFrom, timeTo));
  }
  fetchAll(timeFrom: number, timeTo: number): KeyValue<WindowedKey<K>, V>[] {
    return unwrapAll(this.store.fetchAll(timeFrom, timeTo));
  }
  fetchWithTimestamp(key: K, windowStart: number): ValueAndTimestamp<V> | undefined {
    return this.store.fetch(key, windowStart);
  }
  putWithTimestamp(key: K, value: V, timestamp: number, windowStart: number): void {
    this.store.put(key, { value, timestamp }, windowStart);
  }
  fetchAllWithTimestamp(timeFrom: number, timeTo: number): KeyValue<WindowedKey<K>, ValueAndTimestamp<V>>[] {
    return this.store.fetchAll(timeFrom, timeTo);
  }
  fetchRangeWithTimestamp(key: K, timeFrom: number, timeTo: number): KeyValue<WindowedKey<K>, ValueAndTimestamp<V>>[] {
    return this.store.fetchRange(key, timeFrom, timeTo);
  }
  observeStreamTime(streamTime: number): void {
    this.store.advanceStreamTime(streamTime);
  }
  /** The task's stream time is not this store's: the aggregation moves it (observeStreamTime). */
  advanceStreamTime(): void {}
}

export function timestampedKeyValueStoreBuilder<K, V>(name: string, keySerde: Serde<K>, valueSerde: Serde<V>): StoreBuilder {
  const inner = keyValueStore(name, keySerde, valueAndTimestampSerde(valueSerde));
  return {
    name,
    changelogCleanupPolicy: inner.changelogCleanupPolicy,
    changelogRetentionMs: inner.changelogRetentionMs,
    build: (applicationId) => new TimestampedKeyValueFacade<K, V>(inner.build(applicationId)),
  };
}

export function timestampedWindowStoreBuilder<K, V>(name: string, spec: WindowStoreSpec, keySerde: Serde<K>, valueSerde: Serde<V>): StoreBuilder {
  const inner = windowStore(name, spec, keySerde, valueAndTimestampSerde(valueSerde));
  return {
    name,
    changelogCleanupPolicy: inner.changelogCleanupPolicy,
    changelogRetentionMs: inner.changelogRetentionMs,
    build: (applicationId) => new TimestampedWindowFacade<K, V>(inner.build(applicationId)),
  };
}

import type { Serde } from '../../state/Serde.js';
import type { KeyValue, KeyValueStore, WindowStore, WindowedKey } from '../../state/StateStore.js';
import { keyValueStore, windowStore, type WindowStoreSpec } from '../../state/Stores.js';
import type { RocksDBWindowStore } from '../../state/RocksDBWindowStore.js';
import type { RuntimeStore, StoreBuilder } from '../StoreBuilder.js';

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

export function valueAndTimestampSerde<V>(inner: Serde<V>): Serde<ValueAndTimestamp<V>> {
  return {
    serialize: ({ value, timestamp }) => {
      const header = Buffer.allocUnsafe(HEADER);
      MARKER.copy(header, 0);
      header.writeBigInt64BE(BigInt(timestamp), MARKER.length);
      return Buffer.concat([header, inner.serialize(value)]);
    },
    deserialize: (bytes) => {
      if (bytes.length >= HEADER && bytes[0] === MARKER[0] && bytes[1] === MARKER[1]) {
        return { timestamp: Number(bytes.readBigInt64BE(MARKER.length)), value: inner.deserialize(bytes.subarray(HEADER)) };
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
 * Wraps a built store: the listed methods replace the store's, everything else (the runtime's
 * lifecycle calls, getters) reaches the store itself, bound to it.
 */
function facade<S extends object>(store: S, overrides: Record<string, unknown>): S {
  return new Proxy(store, {
    get(target, property) {
      if (typeof property === 'string' && Object.prototype.hasOwnProperty.call(overrides, property)) return overrides[property];
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export function timestampedKeyValueStoreBuilder<K, V>(name: string, keySerde: Serde<K>, valueSerde: Serde<V>): StoreBuilder {
  const inner = keyValueStore(name, keySerde, valueAndTimestampSerde(valueSerde));
  return {
    name,
    changelogCleanupPolicy: inner.changelogCleanupPolicy,
    changelogRetentionMs: inner.changelogRetentionMs,
    build: (applicationId) => {
      const store = inner.build(applicationId);
      const overrides: Partial<TimestampedKeyValueStore<K, V>> = {
        get: (key) => unwrap(store.get(key)),
        put: (key, value) => store.put(key, value === null || value === undefined ? (value as never) : { value, timestamp: NO_TIMESTAMP }),
        range: (from, to) => unwrapAll(store.range(from, to)),
        all: () => unwrapAll(store.all()),
        getWithTimestamp: (key) => store.get(key),
        putWithTimestamp: (key, value, timestamp) => store.put(key, { value, timestamp }),
      };
      return facade(store, overrides) as unknown as RuntimeStore;
    },
  };
}

export function timestampedWindowStoreBuilder<K, V>(name: string, spec: WindowStoreSpec, keySerde: Serde<K>, valueSerde: Serde<V>): StoreBuilder {
  const inner = windowStore(name, spec, keySerde, valueAndTimestampSerde(valueSerde));
  return {
    name,
    changelogCleanupPolicy: inner.changelogCleanupPolicy,
    changelogRetentionMs: inner.changelogRetentionMs,
    build: (applicationId) => {
      const store: RocksDBWindowStore<K, ValueAndTimestamp<V>> = inner.build(applicationId);
      const overrides: Partial<TimestampedWindowStore<K, V>> & { advanceStreamTime: (streamTime: number) => void } = {
        put: (key, value, windowStart) =>
          store.put(key, value === null || value === undefined ? (value as never) : { value, timestamp: NO_TIMESTAMP }, windowStart),
        fetch: (key, windowStart) => unwrap(store.fetch(key, windowStart)),
        fetchRange: (key, timeFrom, timeTo) => unwrapAll(store.fetchRange(key, timeFrom, timeTo)),
        fetchAll: (timeFrom, timeTo) => unwrapAll(store.fetchAll(timeFrom, timeTo)),
        fetchWithTimestamp: (key, windowStart) => store.fetch(key, windowStart),
        putWithTimestamp: (key, value, timestamp, windowStart) => store.put(key, { value, timestamp }, windowStart),
        fetchAllWithTimestamp: (timeFrom, timeTo) => store.fetchAll(timeFrom, timeTo),
        fetchRangeWithTimestamp: (key, timeFrom, timeTo) => store.fetchRange(key, timeFrom, timeTo),
        observeStreamTime: (streamTime) => store.advanceStreamTime(streamTime),
        // The task's stream time is not this store's: the aggregation moves it (observeStreamTime).
        advanceStreamTime: () => undefined,
      };
      return facade(store, overrides) as unknown as RuntimeStore;
    },
  };
}

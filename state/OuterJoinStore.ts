import type { RocksDBKeyValueStore } from './RocksDBKeyValueStore.js';
import type { Serde } from './Serde.js';
import type { KeyValueStore, StoreLifecycle } from './StateStore.js';
import type { StoreBuilder } from './StoreBuilder.js';
import { keyValueStore, type StoreBuilderOptions } from './Stores.js';

/** Kafka Streams' TimestampedKeyAndJoinSide: a not-yet-joined record's time, side and key. */
export interface TimestampedKeyAndJoinSide<K> {
  timestamp: number;
  isLeftSide: boolean;
  key: K;
}

/** Kafka Streams' LeftOrRightValue: the value of a record of one side. */
export type LeftOrRightValue<V1, V2> = { left: V1; right?: undefined } | { left?: undefined; right: V2 };

/** What the store keeps under a key: the values of its records, or (under the stream-time entry) the time. */
type StoredValues<V1, V2> = Array<LeftOrRightValue<V1, V2> | { streamTime: number }>;

/**
 * The entry holding the shared stream time: timestamp -1 serializes as 0xFF.. and sorts after
 * every record, so a scan in key order meets it last and skips it.
 */
const STREAM_TIME_KEY_TIMESTAMP = -1;

/** <timestamp, left/right byte, key> as Kafka Streams' serializer writes it: time order, right (0) before left (1), then key bytes. */
function timestampedKeyAndJoinSideSerde<K>(inner: Serde<K>): Serde<TimestampedKeyAndJoinSide<K>> {
  return {
    serialize: ({ timestamp, isLeftSide, key }) => {
      const keyBytes = timestamp === STREAM_TIME_KEY_TIMESTAMP ? Buffer.alloc(0) : inner.serialize(key);
      const out = Buffer.allocUnsafe(9 + keyBytes.length);
      out.writeBigInt64BE(BigInt(timestamp), 0);
      out.writeUInt8(isLeftSide ? 1 : 0, 8);
      keyBytes.copy(out, 9);
      return out;
    },
    deserialize: (bytes) => {
      const timestamp = Number(bytes.readBigInt64BE(0));
      const key = timestamp === STREAM_TIME_KEY_TIMESTAMP ? (undefined as unknown as K) : inner.deserialize(bytes.subarray(9));
      return { timestamp, isLeftSide: bytes.readUInt8(8) === 1, key };
    },
  };
}

/** Kafka Streams' ListValueStore value: every value put under the key, in order; each prefixed by its side. */
function valueListSerde<V1, V2>(leftSerde: Serde<V1>, rightSerde: Serde<V2>): Serde<StoredValues<V1, V2>> {
  const TIME = 2;
  return {
    serialize: (values) => {
      const parts: Buffer[] = [];
      for (const value of values) {
        let side: number;
        let bytes: Buffer;
        if ('streamTime' in value) [side, bytes] = [TIME, Buffer.from(String(value.streamTime))];
        else if (value.left !== undefined) [side, bytes] = [1, leftSerde.serialize(value.left)];
        else [side, bytes] = [0, rightSerde.serialize(value.right as V2)];
        const header = Buffer.allocUnsafe(5);
        header.writeUInt8(side, 0);
        header.writeUInt32BE(bytes.length, 1);
        parts.push(header, bytes);
      }
      return Buffer.concat(parts);
    },
    deserialize: (bytes) => {
      const values: StoredValues<V1, V2> = [];
      for (let offset = 0; offset < bytes.length; ) {
        const side = bytes.readUInt8(offset);
        const length = bytes.readUInt32BE(offset + 1);
        const body = bytes.subarray(offset + 5, offset + 5 + length);
        if (side === TIME) values.push({ streamTime: Number(body.toString()) });
        else values.push(side === 1 ? { left: leftSerde.deserialize(body) } : { right: rightSerde.deserialize(body) });
        offset += 5 + length;
      }
      return values;
    },
  };
}

/**
 * The outer-join store of a stream-stream leftJoin / outerJoin (KIP-633, KAFKA-10847): records
 * that found no partner yet, kept until their window closes or a partner arrives. One store per
 * join, shared by both join processors of a task together with the time they share (Kafka Streams'
 * TimeTracker): the stream time of both sides, persisted so it survives restarts, and the smallest
 * time that may be in the store (in memory, as in Kafka Streams).
 */
export interface OuterJoinStore<K, V1, V2> extends KeyValueStore<TimestampedKeyAndJoinSide<K>, StoredValues<V1, V2>> {
  streamTime(): number;
  advanceStreamTime(timestamp: number): void;
  /** Smallest timestamp that may be stored; -Infinity when unknown (after a restart: scan). */
  minTime: number;
  /** Appends a value under the key (ListValueStore.put). */
  append(key: TimestampedKeyAndJoinSide<K>, value: LeftOrRightValue<V1, V2>): void;
  /** The stored records in key order, without the stream-time entry. */
  entries(): Array<{ key: TimestampedKeyAndJoinSide<K>; value: Array<LeftOrRightValue<V1, V2>> }>;
}

export type RuntimeOuterJoinStore<K, V1, V2> = OuterJoinStore<K, V1, V2> & StoreLifecycle;

export function outerJoinStore<K, V1, V2>(name: string, keySerde: Serde<K>, leftSerde: Serde<V1>, rightSerde: Serde<V2>, options: StoreBuilderOptions = {}): StoreBuilder<RuntimeOuterJoinStore<K, V1, V2>> {
  const inner = keyValueStore<TimestampedKeyAndJoinSide<K>, StoredValues<V1, V2>>(name, timestampedKeyAndJoinSideSerde(keySerde), valueListSerde(leftSerde, rightSerde), options);
  return {
    name,
    changelogCleanupPolicy: inner.changelogCleanupPolicy,
    changelogRetentionMs: inner.changelogRetentionMs,
    build: (applicationId) => withOuterJoinMethods(inner.build(applicationId)),
  };
}

const STREAM_TIME_KEY = { timestamp: STREAM_TIME_KEY_TIMESTAMP, isLeftSide: false, key: undefined };

function withOuterJoinMethods<K, V1, V2>(store: RocksDBKeyValueStore<TimestampedKeyAndJoinSide<K>, StoredValues<V1, V2>>): RuntimeOuterJoinStore<K, V1, V2> {
  const timeKey = STREAM_TIME_KEY as unknown as TimestampedKeyAndJoinSide<K>;
  let streamTime: number | undefined;
  const readStreamTime = () => {
    if (streamTime === undefined) {
      const stored = store.get(timeKey)?.[0];
      streamTime = stored && 'streamTime' in stored ? stored.streamTime : -1;
    }
    return streamTime;
  };
  const methods = {
    minTime: Number.NEGATIVE_INFINITY,
    streamTime: readStreamTime,
    advanceStreamTime(timestamp: number) {
      if (timestamp <= readStreamTime()) return;
      streamTime = timestamp;
      store.put(timeKey, [{ streamTime: timestamp }]);
    },
    append(key: TimestampedKeyAndJoinSide<K>, value: LeftOrRightValue<V1, V2>) {
      store.put(key, [...(store.get(key) ?? []), value]);
    },
    entries() {
      return store.all().filter((entry) => entry.key.timestamp >= 0) as Array<{ key: TimestampedKeyAndJoinSide<K>; value: Array<LeftOrRightValue<V1, V2>> }>;
    },
  };
  return new Proxy(store, {
    get(target, property) {
      if (typeof property === 'string' && Object.prototype.hasOwnProperty.call(methods, property)) return methods[property as keyof typeof methods];
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
    set(_target, property, value) {
      if (property !== 'minTime') return false;
      methods.minTime = value as number;
      return true;
    },
  }) as unknown as RuntimeOuterJoinStore<K, V1, V2>;
}

import type { RocksDBKeyValueStore } from './RocksDBKeyValueStore.js';
import type { Serde } from './Serde.js';
import type { KeyValueStore, StoreLifecycle } from './StateStore.js';
import type { StoreBuilder } from './StoreBuilder.js';
import { keyValueStore, type StoreBuilderOptions } from './Stores.js';

/** One stored record of a join side: its time, key and an insertion number (duplicates are kept). */
interface JoinEntryKey<K> {
  timestamp: number;
  key: K;
  seq: number;
}

/** The key of a range scan's bounds: no bytes, so (t, bound, 0) sorts before every record at t. */
const SCAN_BOUND = Symbol('scan bound');

/** Big-endian timestamp, the key's bytes, big-endian insertion number: time order, then key, then arrival. */
function joinEntryKeySerde<K>(inner: Serde<K>): Serde<JoinEntryKey<K>> {
  return {
    serialize: ({ timestamp, key, seq }) => {
      const keyBytes = key === (SCAN_BOUND as unknown) ? Buffer.alloc(0) : inner.serialize(key);
      const out = Buffer.allocUnsafe(16 + keyBytes.length);
      out.writeBigInt64BE(BigInt(timestamp), 0);
      keyBytes.copy(out, 8);
      out.writeBigInt64BE(BigInt(seq), 8 + keyBytes.length);
      return out;
    },
    deserialize: (bytes) => ({
      timestamp: Number(bytes.readBigInt64BE(0)),
      key: inner.deserialize(bytes.subarray(8, bytes.length - 8)),
      seq: Number(bytes.readBigInt64BE(bytes.length - 8)),
    }),
  };
}

/**
 * The records one side of a stream-stream join keeps (Kafka Streams' join window store with
 * retainDuplicates): every record, duplicates included, findable by key and time range.
 * Its stream time is the largest timestamp put; records older than stream time - retention
 * are invisible to fetch (as Kafka Streams' segmented store clamps fetches) and deleted.
 */
export interface JoinWindowStore<K, V> extends KeyValueStore<JoinEntryKey<K>, V> {
  putRecord(key: K, value: V, timestamp: number): void;
  /** Records of key with timestamp in [timeFrom, timeTo], oldest first, duplicates in arrival order. */
  fetchRecords(key: K, timeFrom: number, timeTo: number): Array<{ timestamp: number; value: V }>;
}

export type RuntimeJoinWindowStore<K, V> = JoinWindowStore<K, V> & StoreLifecycle;

/**
 * On the RocksDB key-value store (write buffer, changelog, checkpoint, restore), keyed by time
 * first so expiry is one range scan; a fetch scans the time range and keeps the key's records.
 */
export function joinWindowStore<K, V>(name: string, retentionMs: number, keySerde: Serde<K>, valueSerde: Serde<V>, options: StoreBuilderOptions = {}): StoreBuilder<RuntimeJoinWindowStore<K, V>> {
  const inner = keyValueStore<JoinEntryKey<K>, V>(name, joinEntryKeySerde(keySerde), valueSerde, options);
  return {
    name,
    changelogCleanupPolicy: inner.changelogCleanupPolicy,
    changelogRetentionMs: inner.changelogRetentionMs,
    build: (applicationId) => withJoinMethods(inner.build(applicationId), keySerde, retentionMs),
  };
}

function withJoinMethods<K, V>(store: RocksDBKeyValueStore<JoinEntryKey<K>, V>, keySerde: Serde<K>, retentionMs: number): RuntimeJoinWindowStore<K, V> {
  let state: { streamTime: number; seq: number } | undefined;
  // Recovered from the entries on first use (after any restore): stream time = newest record, and
  // insertion numbers continue above the largest stored one so arrival order survives restarts.
  const recovered = () => {
    if (state) return state;
    let streamTime = -1;
    let seq = 0;
    for (const { key } of store.all()) {
      streamTime = Math.max(streamTime, key.timestamp);
      seq = Math.max(seq, key.seq + 1);
    }
    return (state = { streamTime, seq });
  };
  const bound = (timestamp: number) => ({ timestamp, key: SCAN_BOUND as unknown as K, seq: 0 });
  const scan = (timeFrom: number, timeTo: number) => {
    // [timeFrom, timeTo]: from (timeFrom, no key, 0) up to (timeTo + 1, no key, 0), which no record equals.
    const entries = store.range(bound(timeFrom), bound(timeTo + 1));
    return entries.filter((entry) => entry.key.timestamp <= timeTo);
  };
  const methods: Pick<JoinWindowStore<K, V>, 'putRecord' | 'fetchRecords'> = {
    putRecord(key, value, timestamp) {
      const current = recovered();
      if (timestamp > current.streamTime) {
        const oldCutoff = current.streamTime - retentionMs + 1;
        current.streamTime = timestamp;
        const cutoff = current.streamTime - retentionMs + 1;
        if (cutoff > 0 && cutoff > oldCutoff) for (const { key: expired } of scan(0, cutoff - 1)) store.delete(expired);
      }
      if (timestamp < current.streamTime - retentionMs + 1) return;
      store.put({ timestamp, key, seq: current.seq++ }, value);
    },
    fetchRecords(key, timeFrom, timeTo) {
      const current = recovered();
      const from = Math.max(timeFrom, current.streamTime - retentionMs + 1, 0);
      if (from > timeTo) return [];
      const keyBytes = keySerde.serialize(key);
      return scan(from, timeTo)
        .filter((entry) => keySerde.serialize(entry.key.key).equals(keyBytes))
        .map((entry) => ({ timestamp: entry.key.timestamp, value: entry.value }));
    },
  };
  return new Proxy(store, {
    get(target, property) {
      if (typeof property === 'string' && Object.prototype.hasOwnProperty.call(methods, property)) return methods[property as keyof typeof methods];
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as unknown as RuntimeJoinWindowStore<K, V>;
}

import type { RocksDBKeyValueStore } from './RocksDBKeyValueStore.js';
import type { Serde } from './Serde.js';
import type { KeyValue, KeyValueStore, StoreLifecycle } from './StateStore.js';
import type { StoreBuilder } from './StoreBuilder.js';
import { keyValueStore, type StoreBuilderOptions } from './Stores.js';

/** A key and its session, [start, end] both inclusive (the shape of the DSL's Windowed). */
export interface Windowed<K> {
  key: K;
  windowStart: number;
  windowEnd: number;
}

/** Kafka Streams' SessionKeySchema: the key's bytes, then the session end, then its start (big-endian int64s). */
export function sessionKeySerde<K>(inner: Serde<K>): Serde<Windowed<K>> {
  return {
    serialize: (windowed) => {
      const key = inner.serialize(windowed.key);
      const out = Buffer.allocUnsafe(key.length + 16);
      key.copy(out, 0);
      out.writeBigInt64BE(BigInt(windowed.windowEnd), key.length);
      out.writeBigInt64BE(BigInt(windowed.windowStart), key.length + 8);
      return out;
    },
    deserialize: (bytes) => {
      if (bytes.length < 16) throw new Error(`a session-windowed key needs at least 16 bytes, got ${bytes.length}`);
      const keyLength = bytes.length - 16;
      return {
        key: inner.deserialize(bytes.subarray(0, keyLength)),
        windowEnd: Number(bytes.readBigInt64BE(keyLength)),
        windowStart: Number(bytes.readBigInt64BE(keyLength + 8)),
      };
    },
  };
}

/**
 * Sessions per key (Kafka Streams' SessionStore): each entry is a key, the session's start and
 * end, and its aggregate.
 */
export interface SessionStore<K, V> extends KeyValueStore<Windowed<K>, V> {
  /**
   * Sessions of key that end at or after earliestSessionEndTime and start at or before
   * latestSessionStartTime (the sessions a record at t merges with, for t -/+ the gap), ordered by
   * end then start, as RocksDBSessionStore.findSessions returns them.
   */
  findSessions(key: K, earliestSessionEndTime: number, latestSessionStartTime: number): KeyValue<Windowed<K>, V>[];
  fetchSession(key: K, sessionStart: number, sessionEnd: number): V | undefined;
  remove(session: Windowed<K>): void;
}

export type RuntimeSessionStore<K, V> = SessionStore<K, V> & StoreLifecycle;

/**
 * A session store on the RocksDB key-value store (so on its write buffer, read cache, changelog,
 * checkpoint and restore), keyed by Kafka Streams' session key schema: the key's bytes, the
 * session end, the session start (big-endian int64s). Entries of one key are adjacent and ordered
 * by end, so findSessions is one range scan from (key, earliest end) to (key, max).
 *
 * Expiry is the session aggregation's (topology/dsl/SessionWindowAggregateProcessor.ts): as Kafka
 * Streams drops segments older than stream time - retention, it deletes the sessions that ended
 * before the first live segment, with tombstones in the compacted changelog so a restore agrees.
 */
export function sessionStore<K, V>(name: string, keySerde: Serde<K>, valueSerde: Serde<V>, options: StoreBuilderOptions = {}): StoreBuilder<RuntimeSessionStore<K, V>> {
  const inner = keyValueStore<Windowed<K>, V>(name, sessionKeySerde(keySerde), valueSerde, options);
  return {
    name,
    changelogCleanupPolicy: inner.changelogCleanupPolicy,
    changelogRetentionMs: inner.changelogRetentionMs,
    build: (applicationId) => withSessionMethods(inner.build(applicationId), keySerde),
  };
}

const MAX_TIME = Number.MAX_SAFE_INTEGER;

function withSessionMethods<K, V>(store: RocksDBKeyValueStore<Windowed<K>, V>, keySerde: Serde<K>): RuntimeSessionStore<K, V> {
  const methods: Pick<SessionStore<K, V>, 'findSessions' | 'fetchSession' | 'remove'> = {
    findSessions(key, earliestSessionEndTime, latestSessionStartTime) {
      const keyBytes = keySerde.serialize(key);
      const from = { key, windowStart: 0, windowEnd: Math.max(0, earliestSessionEndTime) };
      const to = { key, windowStart: MAX_TIME, windowEnd: MAX_TIME };
      // The scan also passes longer keys that start with this key's bytes: compared and skipped.
      return store
        .range(from, to)
        .filter((entry) => entry.key.windowStart <= latestSessionStartTime && keySerde.serialize(entry.key.key).equals(keyBytes));
    },
    fetchSession(key, sessionStart, sessionEnd) {
      return store.get({ key, windowStart: sessionStart, windowEnd: sessionEnd });
    },
    remove(session) {
      store.delete(session);
    },
  };
  return new Proxy(store, {
    get(target, property) {
      if (typeof property === 'string' && Object.prototype.hasOwnProperty.call(methods, property)) return methods[property as keyof typeof methods];
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as unknown as RuntimeSessionStore<K, V>;
}

import type { Registry } from 'prom-client';
import type { KeyValue, KeyValueStore, StoreLifecycle, WindowStore } from './StateStore.js';
import { changelogTopicName, type StoreBuilder } from './StoreBuilder.js';
import type { Serde } from './Serde.js';
import { RocksDBKeyValueStore } from './RocksDBKeyValueStore.js';
import { RocksDBWindowStore } from './RocksDBWindowStore.js';
import { StoreMetrics } from './StoreMetrics.js';

/** Kafka Streams' windowstore.changelog.additional.retention.ms default: one day. */
export const DEFAULT_CHANGELOG_ADDITIONAL_RETENTION_MS = 24 * 60 * 60 * 1000;

export interface StoreBuilderOptions {
  /** Registers streamline_store_* metrics (labelled by store) in this registry. */
  registry?: Registry;
  /** Changelog records per RocksDB write batch during restore. Default 10 000. */
  restoreBatchSize?: number;
  /** fsync the RocksDB WAL on every flush. Default false. */
  syncWrites?: boolean;
  /** LRU read cache of committed values per store instance. Default from the memory budget (state/StoreMemory.ts); 0 disables. */
  readCacheEntries?: number;
}

export type KeyValueStoreBuilder<K, V> = StoreBuilder<RocksDBKeyValueStore<K, V>>;
export type WindowStoreBuilder<K, V> = StoreBuilder<RocksDBWindowStore<K, V>>;
/** What build() hands the runtime: the processor-facing store and its lifecycle in one object. */
export type RuntimeKeyValueStore<K, V> = KeyValueStore<K, V> & StoreLifecycle;
export type RuntimeWindowStore<K, V> = WindowStore<K, V> & StoreLifecycle;

export function keyValueStore<K, V>(
  name: string,
  keySerde: Serde<K>,
  valueSerde: Serde<V>,
  options: StoreBuilderOptions & {
    indexOnRestore?: (key: K, value: V) => KeyValue<K, V> | undefined;
    /** A Bloom filter of the stored keys: reads of absent keys skip RocksDB (ChangelogBackedStoreOptions.keyFilter). */
    keyFilter?: boolean | { prefix: string };
  } = {},
): KeyValueStoreBuilder<K, V> {
  validateName(name);
  return {
    name,
    changelogCleanupPolicy: 'compact',
    build: (applicationId) =>
      new RocksDBKeyValueStore<K, V>({
        name,
        changelogTopic: changelogTopicName(applicationId, name),
        keySerde,
        valueSerde,
        counters: options.registry ? StoreMetrics.for(options.registry).counters(name) : undefined,
        restoreBatchSize: options.restoreBatchSize,
        syncWrites: options.syncWrites,
        readCacheEntries: options.readCacheEntries,
        indexOnRestore: options.indexOnRestore,
        keyFilter: options.keyFilter,
      }),
  };
}

export interface WindowStoreSpec {
  windowSizeMs: number;
  /** How long windows stay queryable, in stream time (>= windowSizeMs; size + grace at least). */
  retentionMs: number;
  /** Extra changelog retention beyond retentionMs. Default one day, as in Kafka Streams. */
  changelogAdditionalRetentionMs?: number;
}

export function windowStore<K, V>(
  name: string,
  spec: WindowStoreSpec,
  keySerde: Serde<K>,
  valueSerde: Serde<V>,
  options: StoreBuilderOptions = {},
): WindowStoreBuilder<K, V> {
  validateName(name);
  if (!(spec.windowSizeMs > 0)) throw new RangeError(`window store "${name}": windowSizeMs must be > 0`);
  if (!(spec.retentionMs >= spec.windowSizeMs)) {
    throw new RangeError(`window store "${name}": retentionMs must be >= windowSizeMs`);
  }
  const changelogRetentionMs =
    spec.retentionMs + (spec.changelogAdditionalRetentionMs ?? DEFAULT_CHANGELOG_ADDITIONAL_RETENTION_MS);
  return {
    name,
    changelogCleanupPolicy: 'compact,delete',
    changelogRetentionMs,
    build: (applicationId) =>
      new RocksDBWindowStore<K, V>({
        name,
        changelogTopic: changelogTopicName(applicationId, name),
        keySerde,
        valueSerde,
        windowSizeMs: spec.windowSizeMs,
        retentionMs: spec.retentionMs,
        counters: options.registry ? StoreMetrics.for(options.registry).counters(name) : undefined,
        restoreBatchSize: options.restoreBatchSize,
        syncWrites: options.syncWrites,
        readCacheEntries: options.readCacheEntries,
      }),
  };
}

/** Store names become topic names and directory names: keep them to Kafka's topic charset. */
function validateName(name: string): void {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name === '.' || name === '..') {
    throw new Error(`store name "${name}" must be non-empty and use only letters, digits, '.', '_' and '-'`);
  }
}

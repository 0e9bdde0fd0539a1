import type { Serde } from '../../state/Serde.js';
import { InMemoryKeyValueStore } from '../../state/InMemoryKeyValueStore.js';
import { changelogTopicName } from '../../state/StoreBuilder.js';
import { keyValueStore, windowStore } from '../../state/Stores.js';
import type { RuntimeStore, StoreBuilder } from '../../state/StoreBuilder.js';
import { NO_TIMESTAMP, valueAndTimestampSerde, type TimestampedKeyValueStore, type ValueAndTimestamp } from './TimestampedStores.js';

/** Store builders the DSL materializes into (state/Stores.ts: RocksDB, write buffer, read cache, changelog), by Kafka Streams' Stores names. */
export function keyValueStoreBuilder<K, V>(name: string, keySerde: Serde<K>, valueSerde: Serde<V>, options: { keyFilter?: boolean } = {}): StoreBuilder {
  return keyValueStore(name, keySerde, valueSerde, options);
}

export function windowStoreBuilder<K, V>(
  name: string,
  options: { windowSizeMs: number; retentionMs: number },
  keySerde: Serde<K>,
  valueSerde: Serde<V>,
): StoreBuilder {
  return windowStore(name, options, keySerde, valueSerde);
}

/** Kafka Streams' Materialized.StoreType: which store a DSL operation materializes into. */
export type StoreType = 'rocksdb' | 'in_memory';

/**
 * Kafka Streams' Stores.inMemoryKeyValueStore(name), as a Materialized: spread it into an
 * aggregation's options (`{ ...inMemoryKeyValueStore('counts'), loggingEnabled: false }`).
 */
export function inMemoryKeyValueStore(name: string): { name: string; storeType: 'in_memory' } {
  return { name, storeType: 'in_memory' };
}

/**
 * An aggregation's in-memory store of values with their timestamps (what
 * timestampedKeyValueStoreBuilder gives on RocksDB). Restored from its changelog at every start;
 * with logging disabled it has no changelog records and starts empty.
 */
export function inMemoryTimestampedKeyValueStoreBuilder<K, V>(
  name: string,
  keySerde: Serde<K>,
  valueSerde: Serde<V>,
  options: { loggingEnabled?: boolean } = {},
): StoreBuilder & { readonly loggingEnabled: boolean } {
  const loggingEnabled = options.loggingEnabled ?? true;
  return {
    name,
    loggingEnabled,
    changelogCleanupPolicy: 'compact',
    build: (applicationId) => {
      const store = new InMemoryKeyValueStore<K, ValueAndTimestamp<V>>({
        name,
        changelogTopic: changelogTopicName(applicationId, name),
        keySerde,
        valueSerde: valueAndTimestampSerde(valueSerde),
        loggingEnabled,
      });
      // loggingEnabled is read by the restore (StateRestorer.ts): a store without a changelog is not restored.
      const timestamped: TimestampedKeyValueStore<K, V> & RuntimeStore & { readonly loggingEnabled: boolean } = {
        loggingEnabled,
        get name() {
          return store.name;
        },
        get changelogTopic() {
          return store.changelogTopic;
        },
        get: (key) => store.get(key)?.value,
        put: (key, value) => store.put(key, value === null || value === undefined ? (value as never) : { value, timestamp: NO_TIMESTAMP }),
        delete: (key) => store.delete(key),
        range: (from, to) => store.range(from, to).map(({ key, value }) => ({ key, value: value.value })),
        all: () => store.all().map(({ key, value }) => ({ key, value: value.value })),
        approximateNumEntries: () => store.approximateNumEntries(),
        getWithTimestamp: (key) => store.get(key),
        putWithTimestamp: (key, value, timestamp) => store.put(key, { value, timestamp }),
        open: (dir) => store.open(dir),
        restore: (records) => store.restore(records),
        finishRestore: (offset) => store.finishRestore(offset),
        drainChangelog: (partition, header) => store.drainChangelog(partition, header),
        flush: (offset) => store.flush(offset),
        close: () => store.close(),
      };
      return timestamped;
    },
  };
}

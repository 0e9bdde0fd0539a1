import type { Serde } from '../../state/Serde.js';
import { RocksDBKeyValueStore } from '../../state/RocksDBKeyValueStore.js';
import { RocksDBWindowStore } from '../../state/RocksDBWindowStore.js';
import type { StoreBuilder } from '../StoreBuilder.js';
import { changelogTopic } from '../runtime/TopicPlanner.js';

/** Store builders the DSL materializes into: RocksDB engine, write buffer, changelog. */
export function keyValueStoreBuilder<K, V>(name: string, keySerde: Serde<K>, valueSerde: Serde<V>): StoreBuilder {
  return {
    name,
    changelogCleanupPolicy: 'compact',
    build: (applicationId) => new RocksDBKeyValueStore<K, V>({ name, changelogTopic: changelogTopic(applicationId, name), keySerde, valueSerde }),
  };
}

export function windowStoreBuilder<K, V>(
  name: string,
  options: { windowSizeMs: number; retentionMs: number },
  keySerde: Serde<K>,
  valueSerde: Serde<V>,
): StoreBuilder {
  return {
    name,
    // Windowed changelogs are compacted per (key, window) and also expire with the windows.
    changelogCleanupPolicy: 'compact,delete',
    changelogRetentionMs: options.retentionMs + 24 * 3_600_000,
    build: (applicationId) =>
      new RocksDBWindowStore<K, V>({
        name,
        changelogTopic: changelogTopic(applicationId, name),
        keySerde,
        valueSerde,
        windowSizeMs: options.windowSizeMs,
        retentionMs: options.retentionMs,
      }),
  };
}

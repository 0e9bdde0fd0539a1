import type { Serde } from '../../state/Serde.js';
import { keyValueStore, windowStore } from '../../state/Stores.js';
import type { StoreBuilder } from '../StoreBuilder.js';

/** Store builders the DSL materializes into (state/Stores.ts: RocksDB, write buffer, read cache, changelog). */
export function keyValueStoreBuilder<K, V>(name: string, keySerde: Serde<K>, valueSerde: Serde<V>): StoreBuilder {
  return keyValueStore(name, keySerde, valueSerde);
}

export function windowStoreBuilder<K, V>(
  name: string,
  options: { windowSizeMs: number; retentionMs: number },
  keySerde: Serde<K>,
  valueSerde: Serde<V>,
): StoreBuilder {
  return windowStore(name, options, keySerde, valueSerde);
}

import { jsonSerde, stringSerde } from '../../state/Serde.js';
import type { KeyValueStore } from '../../state/StateStore.js';
import { keyValueStore } from '../../state/Stores.js';
import type { StoreBuilder } from '../../state/StoreBuilder.js';
import type { Subtopology } from '../Subtopologies.js';

const KEY = 'stream-time';

/**
 * A task's stream time survives restarts and moves between instances with the task, committed
 * in the same transaction as its outputs (Kafka Streams keeps it in the offset commit metadata).
 * Without it a restarted task would start from no stream time and accept records that the
 * uninterrupted run had dropped as late: a crash would change results.
 */
export function taskStreamTimeStore(sub: Subtopology): StoreBuilder {
  return keyValueStore(`task-${sub.id}-stream-time`, stringSerde, jsonSerde<number>(), { readCacheEntries: 0 });
}

/** Stateless sub-topologies have nothing whose result depends on stream time across a restart. */
export function needsPersistedStreamTime(sub: Subtopology): boolean {
  return sub.stores.length > 0;
}

export function readStreamTime(store: KeyValueStore<string, number>): number {
  return store.get(KEY) ?? Number.NEGATIVE_INFINITY;
}

export function writeStreamTime(store: KeyValueStore<string, number>, streamTime: number): void {
  store.put(KEY, streamTime);
}

import type { CleanupPolicy, TopicConfig } from '../log/Log.js';
import type { StateStore, StoreLifecycle } from './StateStore.js';

/** A store instance as the runtime holds it: what processors use plus the lifecycle it drives. */
export type RuntimeStore = StateStore & StoreLifecycle;

/**
 * Makes one store instance per task: the one contract between the stores (state/Stores.ts and the
 * DSL's in-memory and timestamped builders) and the runtime (topology/). The runtime names the
 * changelog changelogTopicName(applicationId, name) and creates it with changelogTopicConfig,
 * with the partition count of the sub-topology's input.
 */
export interface StoreBuilder<S extends RuntimeStore = RuntimeStore> {
  readonly name: string;
  readonly changelogCleanupPolicy: CleanupPolicy;
  readonly changelogRetentionMs?: number;
  /** false: the store writes no changelog records (Materialized loggingEnabled: false). Default true. */
  readonly loggingEnabled?: boolean;
  build(applicationId: string): S;
}

/** Kafka Streams' changelog naming: `<application id>-<store>-changelog`. */
export function changelogTopicName(applicationId: string, storeName: string): string {
  return `${applicationId}-${storeName}-changelog`;
}

/** The changelog topic a builder's stores write: compacted, and for windowed stores also deleted after their retention. */
export function changelogTopicConfig(builder: StoreBuilder, partitions: number): TopicConfig {
  const config: TopicConfig = { partitions, cleanupPolicy: builder.changelogCleanupPolicy };
  if (builder.changelogRetentionMs !== undefined) config.retentionMs = builder.changelogRetentionMs;
  return config;
}

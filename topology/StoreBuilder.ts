import type { CleanupPolicy } from '../log/Log.js';
import type { StateStore, StoreLifecycle } from '../state/StateStore.js';

/** A store instance as the runtime holds it: what processors use plus the lifecycle it drives. */
export type RuntimeStore = StateStore & StoreLifecycle;

/**
 * Makes one store instance per task. The runtime names the changelog
 * `<applicationId>-<store>-changelog` and creates it with the same partition count as the
 * sub-topology's input.
 */
export interface StoreBuilder {
  readonly name: string;
  readonly changelogCleanupPolicy: CleanupPolicy;
  readonly changelogRetentionMs?: number;
  /** false: the store writes no changelog records (Materialized loggingEnabled: false). Default true. */
  readonly loggingEnabled?: boolean;
  build(applicationId: string): RuntimeStore;
}

import type { MemoryPlan } from '../config/index.js';
import { setLogDatabaseMemory } from '../log/embedded/LogDatabase.js';
import { setStoreMemory } from '../state/StoreMemory.js';

/**
 * Sizes the state stores and the embedded log opened from now on from the memory plan
 * (config/MemoryPlan.ts, MEMORY_LIMIT_MB). Call before opening the log. Here in the composition
 * root, not beside the plan: the plan is numbers any room may read, applying it reaches into the
 * log and the stores.
 */
export function applyMemoryPlan(plan: MemoryPlan): void {
  setStoreMemory(plan.stores);
  setLogDatabaseMemory(plan.log);
}

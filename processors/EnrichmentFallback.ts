import type { KeyValueStore } from '../state/StateStore.js';
import type { DerivedEnrichment, LearningEvent } from './LandingEvent.js';
import type { FailureTracker } from './ProcessingFailures.js';

/** What a lookup that threw returns, apart from a miss (null). */
export const LOOKUP_FAILED = undefined;

/**
 * Seed 002: "Enrichment failures: continue processing with empty enrichment data". A reference
 * lookup that throws (a store read or a row that does not decode) is counted on the table's
 * tracker and answers LOOKUP_FAILED; the event goes on as if the row were missing.
 */
export function lookupOrEmpty<V>(store: KeyValueStore<string, V>, key: string, tracker: FailureTracker | undefined, partition: number): V | null | typeof LOOKUP_FAILED {
  try {
    const value = store.get(key) ?? null;
    tracker?.ok(partition);
    return value;
  } catch (error) {
    if (!tracker) throw error;
    tracker.failed(error, partition);
    return LOOKUP_FAILED;
  }
}

/** Derived fields with no reference data: the UTC hour only. */
export function emptyDerivedEnrichment(event: LearningEvent): DerivedEnrichment {
  const hour = Number.isFinite(event.event_time) ? new Date(event.event_time).getUTCHours() : 0;
  return { local_hour: hour, time_of_day: hour < 6 ? 'night' : hour < 12 ? 'morning' : hour < 18 ? 'afternoon' : 'evening', timezone: 'UTC' };
}

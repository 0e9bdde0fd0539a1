import type { AggregatorSpec } from './AggregationSpecs.js';
import type { LearningEvent } from './LandingEvent.js';
import type { FailureTracker } from './ProcessingFailures.js';

/** Marks a projection that threw: the aggregate step leaves the window as it was. */
const SKIPPED: unique symbol = Symbol('skipped projection');
type Guarded<P> = P | typeof SKIPPED;

/**
 * Seed 002: "skip failed aggregations, continue with other aggregation types". Wraps an
 * aggregator so that whatever its own code throws (select, keyOf, project, distinctMember, add)
 * skips this record for this aggregator only, counted on its tracker; without it the throw
 * dead-letters the whole record and its other aggregations and routing are lost with it.
 * select and keyOf run in the select step (a record skipped there never reaches a window), a
 * projection that throws travels as SKIPPED and add keeps the aggregate unchanged.
 */
export function guardAggregator<P, A>(spec: AggregatorSpec<P, A>, tracker: FailureTracker): AggregatorSpec<Guarded<P>, A> {
  const { select, keyOf, project, distinctMember, add } = spec;
  return {
    ...spec,
    select: (event: LearningEvent) => {
      try {
        if (!select(event)) return false;
        if (keyOf) keyOf(event);
        return true;
      } catch (error) {
        tracker.failed(error);
        return false;
      }
    },
    keyOf: keyOf
      ? (event: LearningEvent) => {
          try {
            return keyOf(event);
          } catch {
            return ''; // not reached: select has already tried keyOf on this event
          }
        }
      : undefined,
    project: (event: LearningEvent): Guarded<P> => {
      try {
        return project(event);
      } catch (error) {
        tracker.failed(error);
        return SKIPPED;
      }
    },
    distinctMember: distinctMember
      ? (projection: Guarded<P>) => {
          if (projection === SKIPPED || projection == null) return undefined;
          try {
            return distinctMember(projection);
          } catch {
            return undefined; // counted by add below, which fails on the same projection or counts it plainly
          }
        }
      : undefined,
    add: (aggregate: A, projection: Guarded<P>, firstOfMember: boolean) => {
      // null: a SKIPPED projection that crossed a repartition topic (a symbol does not serialize).
      if (projection === SKIPPED || projection == null) return aggregate;
      try {
        const next = add(aggregate, projection, firstOfMember);
        tracker.ok();
        return next;
      } catch (error) {
        tracker.failed(error);
        return aggregate;
      }
    },
  };
}

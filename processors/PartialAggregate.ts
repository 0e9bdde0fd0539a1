import type { TimeWindows } from '../topology/index.js';
import type { AggregatorSpec } from './AggregationSpecs.js';

/**
 * What a pre-aggregating node (PreAggregator, before the repartition) sends per group key and
 * bucket at each commit, and the merging node (PartialMerger, after it) folds into windows.
 * A bucket is one window advance: tumbling windows, the window itself; 5-minute windows
 * advancing by a minute, the minute, which lies wholly inside each of the five windows that
 * contain it. The record's timestamp is the largest event timestamp of the partial.
 * Short field names: this crosses the repartition topic as JSON.
 */
export interface PartialAggregate<A = unknown> {
  /** The bucket's start. */
  b: number;
  /**
   * The first window the events go into: the oldest window containing the bucket unless the
   * pre-aggregating node had already closed it (the events were late for it, and counted so).
   */
  f: number;
  /** init() and add() of the events, firstOfMember false. */
  a: A;
  /** How many events. */
  n: number;
  /** Of the events, how many were the first of their member in the window (distinct aggregators). */
  u: number;
}

/** A value read from the repartition topic: a partial, or (written before pre-aggregation) one event's projection. */
export function isPartialAggregate(value: unknown): value is PartialAggregate {
  return typeof value === 'object' && value !== null && typeof (value as PartialAggregate).b === 'number' && typeof (value as PartialAggregate).f === 'number' && 'a' in value;
}

/** The start of the bucket (window advance) holding timestamp. */
export function bucketOf(windows: TimeWindows, timestamp: number): number {
  return timestamp - (((timestamp % windows.advanceMs) + windows.advanceMs) % windows.advanceMs);
}

/** The oldest window containing the bucket (windows start at 0 or later, as TimeWindows.windowStartsFor). */
export function firstWindowOf(windows: TimeWindows, bucket: number): number {
  let start = bucket - windows.sizeMs + windows.advanceMs;
  while (start < 0) start += windows.advanceMs;
  return start;
}

/**
 * Whether an aggregator is pre-aggregated: it has a repartition (keyOf) and a merge; each
 * bucket lies inside every window containing it (size a multiple of the advance); distinct
 * members, if counted, are the stream key (see AggregatorSpec.distinctMemberIsStreamKey); and
 * rows are not emitted on window close, whose final row needs every partial of a window to have
 * arrived before the merging node closes it (docs/PREAGGREGATION.md).
 */
export function preAggregates(spec: AggregatorSpec, windows: TimeWindows, emit: string): boolean {
  if (!spec.keyOf || !spec.merge || emit === 'onWindowClose') return false;
  if (windows.sizeMs % windows.advanceMs !== 0) return false;
  return !spec.distinctMember || spec.distinctMemberIsStreamKey === true;
}

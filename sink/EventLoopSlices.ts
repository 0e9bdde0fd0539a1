/**
 * The sink maps and serialises batches of up to SINK_BATCH_MAX_ROWS records on the thread that
 * also serves HTTP and runs the topology. Done in one go, a 10k-record batch held that thread for
 * tens of milliseconds once per linger (the seeds' p99 latency waited behind it). Work is cut in
 * slices of a few milliseconds with a turn of the event loop between them: same total work, the
 * same result, shorter stalls.
 */

/** Records mapped per slice (~10-20 µs each for events_raw plus the typed tables: a few ms). */
export const RECORDS_PER_SLICE = 250;
/** Rows serialised per slice of an insert payload (a few µs each). */
export const ROWS_PER_SLICE = 1_000;

/** Resolves on a later turn of the event loop, after pending I/O callbacks have run. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

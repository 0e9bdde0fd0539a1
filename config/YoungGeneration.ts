/**
 * V8's young generation (new space: two semi-spaces plus large objects), MB, per worker thread,
 * given to each worker as resourceLimits.maxYoungGenerationSizeMb. Sized per thread, not by a
 * process flag: a process-wide --max-semi-space-size overrides every worker's resourceLimits in V8
 * (Node 20 and 24 alike), so `npm start` no longer passes one and the HTTP thread keeps V8's
 * default (16 MB semi-spaces). Why these sizes (BENCHMARKS.md, "Young generation per thread"):
 * - stream and sink threads, 24 (8 MB semi-spaces): they allocate per event (parsed records,
 *   rows, store values); with 1 MB semi-spaces scavenges ran so often that objects of one poll
 *   were promoted and the stream thread spent ~20 % of its time in GC;
 * - the embedded log thread, 3 (1 MB semi-spaces): it moves buffers and allocates little.
 * A user's --max-semi-space-size in NODE_OPTIONS still wins over all of them (V8's rule).
 */
export const YOUNG_GENERATION_MB = { stream: 24, sink: 24, log: 3 } as const;

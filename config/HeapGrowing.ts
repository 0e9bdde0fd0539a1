import { type Env, readInteger } from './EnvReaders.js';

/** `npm start`'s default (BENCHMARKS.md, "V8's heap growing factor"). */
export const DEFAULT_HEAP_GROWING_PERCENT = 200;
const MAX_HEAP_GROWING_PERCENT = 1000;

/**
 * V8_HEAP_GROWING_PERCENT: how far each V8 heap may grow past what the last full GC left live
 * before the next one starts (the factor 1 + percent/100; 0 = V8's own factor). V8 picks its own
 * from a heap's limit, and for the limits the memory plan gives the threads (192 MB and under) it
 * picks ~1.3: the stream thread, ~22 MB live under load, ran a full mark-compact every ~200 ms,
 * and V8's helper threads marking for it cost 60-90 µs of CPU per single event. At 200 (factor
 * 3) the whole process spends ~20 % less CPU per event with the same peak RSS; each thread's
 * heap limit still bounds it (V8 collects harder as a heap nears its limit).
 * A V8 flag is process-wide and read when V8 starts, so only the launcher can set it:
 * scripts/start.sh reads this variable and passes --heap-growing-percent to node; this reader
 * validates it the same way (a bad value stops the start with one line) and tells what the
 * running process was given.
 */
export function readHeapGrowingPercent(env: Env): number {
  return readInteger(env, 'V8_HEAP_GROWING_PERCENT', DEFAULT_HEAP_GROWING_PERCENT, 0, MAX_HEAP_GROWING_PERCENT);
}

/** The --heap-growing-percent node was started with (undefined: none, V8's own factor). */
export function heapGrowingPercentInEffect(execArgv: readonly string[] = process.execArgv): number | undefined {
  for (const arg of execArgv) {
    const match = /^--heap[-_]growing[-_]percent=(\d+)$/.exec(arg);
    if (match) return Number(match[1]);
  }
  return undefined;
}

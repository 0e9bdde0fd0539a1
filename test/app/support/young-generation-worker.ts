/** Allocates short-lived objects until V8 has grown the young generation as far as it may, then reports new space's size. */
import v8 from 'node:v8';
import { isMainThread, parentPort } from 'node:worker_threads';

export function churnAndMeasure(): number {
  let keep: Array<{ a: number; b: string }> = [];
  for (let i = 0; i < 2_000_000; i++) {
    keep.push({ a: i, b: `x${i}` });
    if (keep.length > 50_000) keep = [];
  }
  return v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')!.space_size;
}

if (!isMainThread) parentPort!.postMessage(churnAndMeasure());

/**
 * Issue 13: V8's young generation is sized per worker thread (config/YoungGeneration.ts), not by a
 * process flag. These check the roles' limits and the premise the sizing rests on, in the Node that
 * runs the suite: a worker's resourceLimits size its new space only when no process-wide
 * --max-semi-space-size overrides them.
 */
import { spawnSync } from 'node:child_process';
import { pipelineWorkerLimits } from '../../app/threads/PipelineWorker.js';
import { YOUNG_GENERATION_MB } from '../../config/index.js';

const MB = 1024 * 1024;

/** A child Node process (with `flags`) starts a worker with this young generation, makes it allocate, and prints its new space's size. */
function workerNewSpaceMb(youngGenerationMb: number, flags: string[]): number {
  const worker = `
    const v8 = require('node:v8');
    let keep = [];
    for (let i = 0; i < 2e6; i++) { const o = { a: i, b: 'x' + i }; if (i % 50 === 0) keep.push(o); if (keep.length > 20000) keep = []; }
    const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    require('node:worker_threads').parentPort.postMessage(space.space_size);`;
  const main = `
    const { Worker } = require('node:worker_threads');
    const w = new Worker(${JSON.stringify(worker)}, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: ${youngGenerationMb} } });
    w.on('message', (size) => console.log(size));`;
  const env = { ...process.env, NODE_OPTIONS: '' };
  const result = spawnSync(process.execPath, [...flags, '-e', main], { env, encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`the child failed (${result.status}): ${result.stderr}`);
  return Number(result.stdout.trim()) / MB;
}

describe('young generation per thread', () => {
  test('stream threads (with or without the sink) and a sink thread get their young generation; a limited old generation is kept', () => {
    const heap = { maxOldGenerationSizeMb: 192, setting: 'STREAM_HEAP_MB' };
    expect(pipelineWorkerLimits(['topology', 'sink'], heap)).toEqual({ maxYoungGenerationSizeMb: YOUNG_GENERATION_MB.stream, maxOldGenerationSizeMb: 192 });
    expect(pipelineWorkerLimits(['topology'], heap)).toEqual({ maxYoungGenerationSizeMb: YOUNG_GENERATION_MB.stream, maxOldGenerationSizeMb: 192 });
    expect(pipelineWorkerLimits(['sink'], undefined)).toEqual({ maxYoungGenerationSizeMb: YOUNG_GENERATION_MB.sink });
  });

  test("without a process flag a worker's new space grows to its own limit (two semi-spaces: two thirds of the young generation)", () => {
    const size = workerNewSpaceMb(YOUNG_GENERATION_MB.stream, []);
    expect(size).toBeGreaterThan(YOUNG_GENERATION_MB.stream / 3);
    expect(size).toBeLessThanOrEqual(YOUNG_GENERATION_MB.stream);
  });

  test('a process-wide --max-semi-space-size overrides the worker\'s limit (why npm start passes none)', () => {
    expect(workerNewSpaceMb(YOUNG_GENERATION_MB.stream, ['--max-semi-space-size=1'])).toBeLessThanOrEqual(2);
  });
});

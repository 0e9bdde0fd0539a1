/**
 * Run as `node --max-semi-space-size=1 --import tsx young-generation-probe.ts`: starts a worker with
 * its own young generation and one without through startModuleWorker, then prints the new space
 * each of them (and this thread) grew to, as JSON.
 */
import { once } from 'node:events';
import { startModuleWorker } from '../../../log/remote/StartModuleWorker.js';
import { churnAndMeasure } from './young-generation-worker.js';

async function measure(resourceLimits?: { maxYoungGenerationSizeMb: number }): Promise<number> {
  const worker = startModuleWorker(new URL('./young-generation-worker.js', import.meta.url), resourceLimits ? { resourceLimits } : {});
  const [size] = (await once(worker, 'message')) as [number];
  await worker.terminate();
  return size;
}

const before = await measure();
const own = await measure({ maxYoungGenerationSizeMb: 48 });
const after = await measure();
process.stdout.write(`${JSON.stringify({ main: churnAndMeasure(), before, own, after })}\n`);

/**
 * A/B of the ingress batch path between two checkouts of this repo (e.g. a `git worktree` of the
 * previous commit and the working tree), alternating A, B, A, B... in fresh ROLES=ingress
 * services, so both see the same shared machine over the same minutes. Each checkout's own
 * bench/lib/ServiceProcess.ts starts its own service code; the load comes from this one.
 *
 * Reports per round: events/s into the landing topic, service CPU µs per event landed (less
 * sensitive to other load on the box than events/s), peak RSS, p99 latency, load average.
 *
 *   npx tsx bench/ingress-batch-ab.ts <dirA> <dirB> [rounds=2] [seconds=8] [batch-1000|batch-100|gzip]
 */
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LoadGenerator, type RequestSpec } from './lib/LoadGenerator.js';
import { collectorBatch, gzippedCollectorBatch, seed000Batch } from './lib/Payloads.js';
import type { ServiceProcess as ServiceProcessType } from './lib/ServiceProcess.js';

const [dirA, dirB, roundsArg, secondsArg, kindArg] = process.argv.slice(2);
if (!dirA || !dirB) throw new Error('usage: ingress-batch-ab.ts <dirA> <dirB> [rounds] [seconds] [batch-1000|batch-100|gzip]');
const rounds = Number(roundsArg ?? 2);
const seconds = Number(secondsArg ?? 8);
const kind = kindArg ?? 'batch-1000';
const CONNECTIONS = 8;

function spec(): RequestSpec {
  if (kind === 'batch-100') return { path: '/api/v1/events/batch', headers: {}, next: seed000Batch(100) };
  if (kind === 'gzip') return { path: '/api/v1/collect', headers: { 'content-encoding': 'gzip' }, next: gzippedCollectorBatch(1000).next };
  return { path: '/api/v1/collect', headers: {}, next: collectorBatch(1000) };
}

async function measure(dir: string): Promise<string> {
  const { ServiceProcess } = (await import(pathToFileURL(path.resolve(dir, 'bench/lib/ServiceProcess.ts')).href)) as { ServiceProcess: typeof ServiceProcessType };
  const load1 = os.loadavg()[0]!;
  const service = await ServiceProcess.start({ mode: 'pipeline', env: { ROLES: 'ingress' } });
  const generator = new LoadGenerator(service.address, CONNECTIONS);
  try {
    const request = spec();
    await generator.closedLoop(request, CONNECTIONS, 2_000);
    const before = await service.stats();
    const result = await generator.closedLoop(request, CONNECTIONS, seconds * 1000);
    const after = await service.stats();
    const landed = after.landed - before.landed;
    const wall = (after.at - before.at) / 1000;
    const cpuPerEvent = (after.cpuMicros - before.cpuMicros) / Math.max(1, landed);
    return (
      `${Math.round(landed / wall).toLocaleString('en-US').padStart(8)} events/s  ${cpuPerEvent.toFixed(2).padStart(6)} µs CPU/event  ` +
      `peak RSS ${Math.round(after.maxRssBytes / 2 ** 20)} MB  p99 ${result.latencyMs.p99.toFixed(0)} ms  errors ${result.errors}  load ${load1.toFixed(2)}`
    );
  } finally {
    generator.close();
    await service.stop();
  }
}

for (let round = 1; round <= rounds; round++) {
  for (const [label, dir] of [
    ['A', dirA],
    ['B', dirB],
  ] as const) {
    console.log(`${kind} round ${round} ${label} (${dir}): ${await measure(dir)}`);
  }
}

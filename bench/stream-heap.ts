/**
 * What fills the stream thread's V8 heap at full capacity (issue 21): starts the service in this
 * process (threaded defaults, embedded log and chDB, a temp DATA_DIR, the 1,024 MB budget), drives
 * the soak's full-capacity load at it (8 connections of bulk-100 seed 004 requests, Retry-After
 * honoured), waits for the backlog to drain, prints every thread's heap gauges, then writes a heap
 * snapshot of the first stream worker and summarises it (bench/lib/HeapSnapshotSummary.ts).
 *
 *   npx tsx bench/stream-heap.ts
 *   BENCH_HEAP_LOAD_SECONDS=90       full-capacity load
 *   BENCH_HEAP_DRAIN_SECONDS=30      wait after the load before the snapshot
 *   BENCH_HEAP_SNAPSHOT=/tmp/x.heapsnapshot   where the snapshot goes (default: the temp dir)
 *   STREAM_HEAP_MB=256               the stream threads' V8 old generation (default: the memory
 *                                    plan's share, 199 MB at 1024). Unlimited the heap reached
 *                                    180-315 MB; 256 and 192 held it under 200 MB (used at most
 *                                    138-200); at 128 the thread ran out of heap within 30 s
 *   npx tsx bench/stream-heap.ts some.heapsnapshot   only summarises a snapshot written before
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline as pipe } from 'node:stream/promises';
import type { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { startService } from '../app/Service.js';
import { SoakLoad } from './lib/SoakLoad.js';
import { summariseHeapSnapshot } from './lib/HeapSnapshotSummary.js';

if (process.argv[2]) {
  console.log(summariseHeapSnapshot(JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))));
  process.exit(0);
}

const loadSeconds = Number(process.env.BENCH_HEAP_LOAD_SECONDS ?? 90);
const drainSeconds = Number(process.env.BENCH_HEAP_DRAIN_SECONDS ?? 30);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stream-heap-'));
const snapshotFile = process.env.BENCH_HEAP_SNAPSHOT ?? path.join(dataDir, 'stream-1.heapsnapshot');

const service = await startService({ ...process.env, HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir, MEMORY_LIMIT_MB: process.env.MEMORY_LIMIT_MB ?? '1024' }, pino({ level: 'warn' }));
await service.started;
const streamWorker = service.threads?.streamWorkers[0];
if (!streamWorker) throw new Error('no stream worker: run threaded (not SINGLE_THREAD=true) with the topology role');

/** Where the process's resident memory is, roughly: anonymous vs file pages, and chDB's own tracked total. */
async function residentParts(label: string): Promise<void> {
  const rollup = fs.readFileSync('/proc/self/smaps_rollup', 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? NaN) / 1024;
  let chdbTracked = 'n/a';
  try {
    const [row] = await service.analyticsSql<{ value: string }>("SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'");
    chdbTracked = `${(Number(row?.value) / 2 ** 20).toFixed(0)} MB`;
  } catch (error) {
    chdbTracked = `unknown (${(error as Error).message.slice(0, 80)})`;
  }
  const main = process.memoryUsage();
  console.log(
    `${label}: rss ${kb('Rss').toFixed(0)} MB = anonymous ${kb('Anonymous').toFixed(0)} + file ${(kb('Rss') - kb('Anonymous')).toFixed(0)}; chDB tracked ${chdbTracked}; ` +
      `main thread external ${(main.external / 2 ** 20).toFixed(0)} MB (array buffers ${(main.arrayBuffers / 2 ** 20).toFixed(0)})`,
  );
}

async function heapGauges(label: string): Promise<void> {
  const text = await service.registry.metrics();
  const lines = text.split('\n').filter((line) => /^streamline_thread_heap_(used|total)_bytes\{/.test(line));
  const mb = (line: string) => `${line.replace(/ [0-9.e+]+$/, '')} ${(Number(line.split(' ').pop()) / 2 ** 20).toFixed(1)} MB`;
  console.log(`${label}: rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB\n  ${lines.map(mb).join('\n  ')}`);
}

const load = new SoakLoad(service.address, 100);
const sampling = setInterval(() => void heapGauges(`load, ${load.counters.ackedEvents} events acked, ${load.counters.refused} refused`), 15_000);
await load.flatOut(8, loadSeconds * 1000);
clearInterval(sampling);
load.close();
await heapGauges(`after ${loadSeconds} s of load (${load.counters.ackedEvents} events acked, ${load.counters.refused} refused)`);
await new Promise((resolve) => setTimeout(resolve, drainSeconds * 1000));
await heapGauges(`after ${drainSeconds} s of drain`);
await residentParts(`after ${drainSeconds} s of drain`);

// PipelineWorker keeps its Worker private: the snapshot is this bench's only use of it.
const worker = (streamWorker as unknown as { worker: Worker }).worker;
// Numbers as nodes too (Node >= 20.?: ignored before), so a queue's head index can be read from the snapshot.
const snapshot = await (worker.getHeapSnapshot as (options?: { exposeNumericValues?: boolean }) => Promise<NodeJS.ReadableStream>)({ exposeNumericValues: true });
await pipe(snapshot, fs.createWriteStream(snapshotFile));
console.log(`snapshot of ${streamWorker.name}: ${snapshotFile} (${(fs.statSync(snapshotFile).size / 2 ** 20).toFixed(0)} MB)`);
// The snapshot collected all garbage first: what is left is the live heap.
await heapGauges('after the snapshot (a full collection)');
// Inflated by the snapshot itself (~220 MB: its serialisation in the worker, its chunks here).
await residentParts('after the snapshot');
await service.stop();
console.log(summariseHeapSnapshot(JSON.parse(fs.readFileSync(snapshotFile, 'utf8'))));
// The data dir goes (the default snapshot with it); a snapshot named by BENCH_HEAP_SNAPSHOT stays.
fs.rmSync(dataDir, { recursive: true, force: true });

/**
 * The cost of reaching the embedded log across threads (issue 13 groundwork): the same calls
 * made directly on an EmbeddedLog in this thread, through a RemoteLog whose LogServer is in this
 * thread (MessageChannel: the protocol's cost without a thread hop), and through a RemoteLog to an
 * EmbeddedLog owned by a worker thread (EmbeddedLogThread: the dedicated-log-thread design).
 *
 * - produce: batches of 1, 100, 1000 seed-004-sized events (~300 bytes), one call at a time
 *   (latency) and 16 at a time (throughput, as concurrent HTTP requests would);
 * - poll: a consumer reading a preloaded topic with poll(500);
 * - codec: one batch over a MessageChannel packed into one transferred ArrayBuffer vs structured
 *   clone of the record objects with their Buffers (what the protocol picks, and why).
 * Each row: events/s and p50/p99 ms per call (wall clock: they move with the machine's load),
 * CPU µs per event of the calling thread (what the log costs the thread that uses it, e.g. the
 * HTTP thread) and of all other threads (the log thread, RocksDB), and events/s against direct.
 *
 *   node --import tsx bench/remote-log.ts [secondsPerCase=3]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MessageChannel } from 'node:worker_threads';
import { openEmbeddedLog } from '../log/embedded/index.js';
import type { Log, LogRecord, ProducerRecord } from '../log/Log.js';
import { EmbeddedLogThread } from '../log/remote/EmbeddedLogThread.js';
import { LogServer } from '../log/remote/LogServer.js';
import { packRecords, transferablesOf, unpackLogRecords, type PackedRecords } from '../log/remote/RecordPacking.js';
import { RemoteLog } from '../log/remote/RemoteLog.js';

const seconds = Number(process.argv[2] ?? 3);
const channels = ['web', 'mobile', 'api', 'email', 'push'];

/** A seed 004 product event as the ingress lands it: event id and received time added (~300 bytes). */
function event(n: number): ProducerRecord {
  const user = `user_${n % 100_000}`;
  const value = JSON.stringify({
    event_id: `01JF${n.toString(36).padStart(22, '0')}`,
    event_name: 'product_view',
    channel: channels[n % 5],
    campaign_id: 'summer_sale_2024',
    user_id: user,
    timestamp: 1_764_000_000_000 + n,
    received_at: 1_764_000_000_050 + n,
    tags: ['electronics', 'featured'],
    metadata: { product_id: `SKU-${n % 1000}`, page_url: '/products/laptop', referrer: 'https://example.com/search?q=laptop' },
  });
  return { topic: 'events.landing', key: Buffer.from(user), value: Buffer.from(value) };
}

interface Row {
  case: string;
  via: string;
  events: number;
  eventsPerSec: number;
  p50: number;
  p99: number;
  /** CPU of the calling (main) thread per event: what the log costs the thread that uses it. */
  callerCpuUsPerEvent: number;
  /** CPU of every other thread of the process per event (the log thread, RocksDB's, GC helpers). */
  otherCpuUsPerEvent: number;
  vsDirect?: string;
}

const rows: Row[] = [];

/**
 * CPU time of this process's main thread in ms, from /proc (Linux; Node 20 has no per-thread CPU
 * API). CPU time, unlike wall time or event-loop utilisation, does not grow when other processes
 * take the cores, which they do on this shared machine.
 */
function mainThreadCpuMs(): number {
  const fields = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3. Ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Waits (up to 15 s) until this process is nearly idle: RocksDB's background flushes and
 * compactions after one case would otherwise be billed to the next.
 */
async function quiesce(): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const before = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const used = process.cpuUsage(before);
    if ((used.user + used.system) / 1000 < 10) return;
  }
}

async function timed(label: string, via: string, concurrency: number, call: () => Promise<number>): Promise<Row> {
  await quiesce();
  const latency: number[] = [];
  // Warm-up, untimed.
  const warmUntil = Date.now() + 300;
  while (Date.now() < warmUntil) await call();
  let events = 0;
  const main0 = mainThreadCpuMs();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const started = performance.now();
        // Not `events += await call()`: that reads `events` before the await and loses concurrent updates.
        const n = await call();
        events += n;
        latency.push(performance.now() - started);
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const mainMs = mainThreadCpuMs() - main0;
  const cpu = process.cpuUsage(cpu0);
  // Sub-millisecond calls: three decimals (bench/lib/Percentiles rounds to 0.1 ms).
  latency.sort((a, b) => a - b);
  const at = (q: number) => Math.round((latency[Math.min(latency.length - 1, Math.ceil(q * latency.length) - 1)] ?? 0) * 1000) / 1000;
  const p50 = at(0.5);
  const p99 = at(0.99);
  const perEvent = (ms: number) => Math.round(((ms * 1000) / Math.max(1, events)) * 100) / 100;
  const row: Row = {
    case: label,
    via,
    events,
    eventsPerSec: Math.round(events / elapsed),
    p50,
    p99,
    callerCpuUsPerEvent: perEvent(mainMs),
    otherCpuUsPerEvent: perEvent(Math.max(0, (cpu.user + cpu.system) / 1000 - mainMs)),
  };
  const direct = rows.find((r) => r.case === label && r.via === 'direct');
  if (direct) row.vsDirect = `${(row.eventsPerSec / direct.eventsPerSec).toFixed(2)}x`;
  rows.push(row);
  console.log(JSON.stringify(row));
  return row;
}

interface Via {
  name: string;
  log: Log;
}

/** Each case runs on every path back to back, so a change in machine load hits them alike. */
async function produceCases(vias: Via[]): Promise<void> {
  for (const { log } of vias) await log.ensureTopic('events.landing', { partitions: 8 });
  for (const size of [1, 100, 1000]) {
    const pool = Array.from({ length: 32 }, (_, b) => Array.from({ length: size }, (_, i) => event(b * size + i)));
    for (const concurrency of [1, 16]) {
      for (const { name, log } of vias) {
        let next = 0;
        await timed(`produce batch ${size} x${concurrency}`, name, concurrency, async () => (await log.produce(pool[next++ % pool.length])).length);
      }
    }
  }
}

async function pollCases(vias: Via[]): Promise<void> {
  const total = 200_000;
  const batch = Array.from({ length: 1000 }, (_, i) => ({ ...event(i), topic: 'poll' }));
  for (const { log } of vias) {
    await log.ensureTopic('poll', { partitions: 8 });
    for (let i = 0; i < total; i += batch.length) await log.produce(batch);
  }
  for (const { name, log } of vias) {
    const consumer = log.createConsumer({ groupId: 'bench-poll' });
    await consumer.subscribe(['poll'], { async onAssigned() {}, async onRevoked() {} });
    let read = 0;
    // Rewinds when the topic is exhausted, so the case runs for its full time on a warm reader.
    await timed('poll 500', name, 1, async () => {
      const records = await consumer.poll(500, 1000);
      read += records.length;
      if (read >= total) {
        for (const tp of consumer.assignment()) consumer.seek(tp, 0);
        read = 0;
      }
      return records.length;
    });
    await consumer.close();
  }
}

/** Sends `records` over a MessageChannel and rebuilds them on the other side, either way. */
async function codecCase(label: string, records: LogRecord[], packed: boolean): Promise<void> {
  const { port1, port2 } = new MessageChannel();
  let received: ((records: LogRecord[]) => void) | null = null;
  port2.on('message', (message: PackedRecords | LogRecord[]) => {
    const out = packed
      ? unpackLogRecords(message as PackedRecords)
      : (message as LogRecord[]).map((r) => ({ ...r, key: r.key && toBuffer(r.key), value: r.value && toBuffer(r.value) }));
    received!(out);
  });
  const send = () =>
    new Promise<number>((resolve) => {
      received = (out) => resolve(out.length);
      if (packed) {
        const message = packRecords(records);
        port1.postMessage(message, transferablesOf(message));
      } else port1.postMessage(records);
    });
  await timed(label, packed ? 'packed + transferred' : 'structured clone', 1, send);
  port1.close();
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-remote-log-'));
  const direct = await openEmbeddedLog({ dir: path.join(root, 'direct'), cleanupIntervalMs: 0 });
  const sameThreadLog = await openEmbeddedLog({ dir: path.join(root, 'channel'), cleanupIntervalMs: 0 });
  const server = new LogServer(sameThreadLog);
  const { port1, port2 } = new MessageChannel();
  server.serve(port2);
  const overChannel = await RemoteLog.connect(port1);
  const thread = await EmbeddedLogThread.start({ dir: path.join(root, 'worker'), cleanupIntervalMs: 0 });
  const toWorker = await thread.connect();
  try {
    const vias: Via[] = [
      { name: 'direct', log: direct },
      { name: 'remote, same thread', log: overChannel },
      { name: 'remote, log thread', log: toWorker },
    ];
    await produceCases(vias);
    await pollCases(vias);
    // Codec: records as a poll returns them (values are views into RocksDB batch buffers) and as
    // an ingress builds them (Buffer.from, from the 8 KiB pool).
    const polled = await direct.read({ topic: 'poll', partition: 0 }, 0, 1000);
    const built = Array.from({ length: 1000 }, (_, i) => ({ ...event(i), partition: 0, offset: i, headers: {}, timestamp: 0 }));
    for (const n of [1, 100, 1000]) {
      for (const [source, records] of [['polled', polled], ['built', built]] as const) {
        await codecCase(`codec ${n} ${source}`, records.slice(0, n), false);
        await codecCase(`codec ${n} ${source}`, records.slice(0, n), true);
      }
    }
  } finally {
    await toWorker.close();
    await thread.stop();
    await overChannel.close();
    await server.close();
    await sameThreadLog.close();
    await direct.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
  console.log(`\nnode ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, ${seconds} s per case`);
  console.log('| case | via | events/s | p50 ms | p99 ms | caller thread CPU µs/event | other threads CPU µs/event | events/s vs direct |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.case} | ${r.via} | ${r.eventsPerSec.toLocaleString('en-US')} | ${r.p50} | ${r.p99} | ${r.callerCpuUsPerEvent} | ${r.otherCpuUsPerEvent} | ${r.vsDirect ?? ''} |`,
    );
  }
}

await main();

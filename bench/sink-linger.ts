/**
 * Event-to-queryable latency of the ClickHouse sink alone (embedded log -> ClickHouseSink -> chDB,
 * no HTTP, no topology), to choose SINK_BATCH_LINGER without the full pipeline's noise: a steady
 * background rate of seed 004 envelopes into events.raw, and every 500 ms a marker event whose
 * row is polled for (every 25 ms) from its produce ack until it is in events_raw.
 * One chDB per process: run it once per linger value, alternating, e.g.
 *
 *   for l in 1000 200 1000 200; do npx tsx bench/sink-linger.ts $l; done
 *   npx tsx bench/sink-linger.ts <lingerMs> [seconds=20] [eventsPerSecond=5000]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEmbeddedLog } from '../log/embedded/index.js';
import type { ProducerRecord } from '../log/Log.js';
import { ChdbStore } from '../sink/ChdbStore.js';
import { ClickHouseSink } from '../sink/ClickHouseSink.js';
import { migrate } from '../sink/Migrator.js';
import { defaultSinkRoutes } from '../sink/SinkConfig.js';

const lingerMs = Number(process.argv[2] ?? 1000);
const seconds = Number(process.argv[3] ?? 20);
const rate = Number(process.argv[4] ?? 5000);
const TOPIC = 'events.raw';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-sink-linger-'));
const log = await openEmbeddedLog({ dir: path.join(dir, 'log'), cleanupIntervalMs: 0 });
await log.ensureTopic(TOPIC, { partitions: 4 });
const store = await ChdbStore.open({ path: path.join(dir, 'chdb') });
await migrate(store, { eventsTtlDays: 0 });
const sink = new ClickHouseSink({ log, store, routes: defaultSinkRoutes({ rawEvents: TOPIC }), lingerMs });
await sink.start();

let seq = 0;
function event(eventName: string): ProducerRecord {
  const n = seq++;
  const user = `user-${n % 1000}`;
  const now = Date.now();
  const value = {
    event_id: `evt-${n}`,
    event_type: 'product',
    source: 'seed004',
    received_at: now,
    payload: { event_name: eventName, channel: 'web', campaign_id: 'summer', user_id: user, timestamp: now, tags: ['t1'], metadata: { product_id: 'SKU-1' } },
  };
  return { topic: TOPIC, key: Buffer.from(user), value: Buffer.from(JSON.stringify(value)) };
}

const load1 = os.loadavg()[0]!;
const perTick = Math.max(1, Math.round(rate / 100));
const background = setInterval(() => {
  void log.produce(Array.from({ length: perTick }, () => event('product_view')));
}, 10);

const waiting = new Map<string, number>();
const latencies: number[] = [];
let markers = 0;
const marking = setInterval(() => {
  const name = `marker_${markers++}`;
  void log.produce([event(name)]).then(() => waiting.set(name, performance.now()));
}, 500);
const polling = setInterval(() => {
  if (waiting.size === 0) return;
  const names = [...waiting.keys()];
  // Marker names are marker_<n>: safe to inline (chDB's bound parameters take no arrays).
  const list = names.map((name) => `'${name}'`).join(', ');
  void store.query<{ event_name: string }>(`SELECT event_name FROM events_db.events_raw WHERE event_name IN (${list})`).then((rows) => {
    const at = performance.now();
    for (const { event_name: name } of rows) {
      const since = waiting.get(name);
      if (since === undefined) continue;
      waiting.delete(name);
      latencies.push(at - since);
    }
  });
}, 25);

await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
clearInterval(background);
clearInterval(marking);
const deadline = Date.now() + 30_000;
while (latencies.length < markers && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
clearInterval(polling);
await sink.stop();
await store.close();
await log.close();
fs.rmSync(dir, { recursive: true, force: true });

latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]?.toFixed(0) ?? '-';
console.log(
  `linger ${lingerMs} ms, ${rate} events/s for ${seconds} s: event-to-queryable p50 ${pct(50)} / p95 ${pct(95)} / p99 ${pct(99)} / max ${pct(100)} ms ` +
    `(${latencies.length}/${markers} markers; ${waiting.size} not seen), load ${load1.toFixed(2)}`,
);

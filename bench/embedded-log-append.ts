/**
 * Append throughput of the embedded log on the ingress path: batches of 100–1000 events produced
 * concurrently (as many HTTP requests would), keyed by user id, ~200-byte JSON values.
 * Prints events/s. Target (BENCHMARKS.md "Targets"): >= 300k events/s.
 *
 *   node --import tsx bench/embedded-log-append.ts [totalEvents] [batchSize] [concurrency] [fsync]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEmbeddedLog } from '../log/embedded/index.js';
import type { ProducerRecord } from '../log/Log.js';

const total = Number(process.argv[2] ?? 2_000_000);
const batchSize = Number(process.argv[3] ?? 500);
const concurrency = Number(process.argv[4] ?? 16);
const fsync = process.argv[5] === 'fsync';

function makeBatch(topic: string, n: number, seq: number): ProducerRecord[] {
  const out: ProducerRecord[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const user = `user-${(seq + i) % 50_000}`;
    out[i] = {
      topic,
      key: Buffer.from(user),
      value: Buffer.from(
        JSON.stringify({
          event_id: `evt-${seq + i}`,
          event_name: 'attempt',
          user_id: user,
          ts: 1_700_000_000_000 + seq + i,
          props: { item: 'item-123', score: 0.75, channel: 'web' },
        }),
      ),
      headers: { content_type: 'json' },
    };
  }
  return out;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-embedded-log-'));
  const log = await openEmbeddedLog({ dir, fsync, cleanupIntervalMs: 0 });
  const topic = 'events.raw';
  await log.ensureTopic(topic, { partitions: 8 });

  // Pre-build batches outside the timed section: we measure the log, not JSON.stringify.
  const pool = Array.from({ length: 64 }, (_, i) => makeBatch(topic, batchSize, i * batchSize));

  // Warm-up.
  await Promise.all(pool.slice(0, 8).map((b) => log.produce(b)));

  let produced = 0;
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (produced < total) {
        produced += batchSize;
        await log.produce(pool[next++ % pool.length]);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rate = Math.round(produced / seconds);
  const bytes = pool[0].reduce((n, r) => n + (r.value?.length ?? 0), 0) / batchSize;

  let count = 0;
  for (let p = 0; p < 8; p++) count += await log.endOffset({ topic, partition: p });
  await log.close();
  fs.rmSync(dir, { recursive: true, force: true });

  console.log(
    JSON.stringify({
      bench: 'embedded-log-append',
      events: produced,
      batchSize,
      concurrency,
      fsync,
      valueBytes: Math.round(bytes),
      seconds: Number(seconds.toFixed(2)),
      eventsPerSecond: rate,
      stored: count,
    }),
  );
  console.log(`embedded log append: ${rate.toLocaleString('en-US')} events/s (batches of ${batchSize}, ${concurrency} concurrent${fsync ? ', fsync per group commit' : ''})`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

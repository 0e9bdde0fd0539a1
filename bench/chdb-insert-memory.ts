/**
 * What chDB allocates to insert one sink batch (issue 21: the memory plan's chDB share and
 * SINK_BATCH_MAX_BYTES). For each batch size, the smallest max_memory_usage under which the
 * sink's insert of that many seed 004 events into events_raw succeeds, found by bisection (1 MiB
 * steps), against the batch's record bytes and its rows as JSONEachRow.
 *
 *   npx tsx bench/chdb-insert-memory.ts [records ...]     (default 500 2000 5000 10000 20000)
 *
 * chDB runs in this process on a fresh temp directory, removed at the end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChdbStore } from '../sink/ChdbStore.js';
import { migrate } from '../sink/Migrator.js';
import { rawEventMapper } from '../sink/RowMappers.js';
import type { LogRecord } from '../log/Log.js';

const sizes = process.argv.slice(2).map(Number);
const counts = sizes.length > 0 ? sizes : [500, 2000, 5000, 10_000, 20_000];
const MiB = 1024 * 1024;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-chdb-insert-memory-'));
const store = await ChdbStore.open({ path: dir, maxRowsPerInsert: 10_000_000 });
await migrate(store, { eventsTtlDays: 0 });

/** Records as the clean-events topic carries them (seed 004 product events in the ingress envelope). */
function records(count: number, seed: number): LogRecord[] {
  const names = ['product_view', 'add_to_cart', 'purchase'];
  const channels = ['web', 'mobile', 'api', 'email', 'push', ''];
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => {
    const timestamp = now - ((i * 7919) % 86_400_000);
    const value = {
      event_id: `evt-${seed}-${i}`,
      event_type: 'product',
      source: 'seed004',
      received_at: timestamp + 5,
      payload: { event_name: names[i % 3], channel: channels[i % 6], campaign_id: 'summer', user_id: `user-${(i * 31) % 300}`, timestamp, tags: ['t1'], metadata: { product_id: 'SKU-1' } },
    };
    return { topic: 'events.clean', partition: 0, offset: i, key: Buffer.from(value.payload.user_id), value: Buffer.from(JSON.stringify(value)), headers: {}, timestamp };
  });
}

let token = 0;
try {
  console.log('| records | record bytes | rows as JSONEachRow | max_memory_usage needed | per record byte |');
  console.log('|---:|---:|---:|---:|---:|');
  for (const count of counts) {
    const batch = records(count, count);
    const rows = batch.map((record) => rawEventMapper(JSON.parse(record.value!.toString()), record)!) as Record<string, unknown>[];
    const recordBytes = batch.reduce((sum, r) => sum + r.key!.length + r.value!.length, 0);
    const rowBytes = rows.reduce((sum, row) => sum + JSON.stringify(row).length + 1, 0);
    let [low, high] = [MiB, 2048 * MiB];
    while (high - low > MiB) {
      const mid = Math.floor((low + high) / 2);
      await store.exec(`SET max_memory_usage = ${mid}`);
      try {
        await store.insert('events_raw', rows, { dedupToken: `bench-${token++}` });
        high = mid;
      } catch {
        low = mid;
      }
    }
    console.log(`| ${count} | ${(recordBytes / MiB).toFixed(2)} MiB | ${(rowBytes / MiB).toFixed(2)} MiB | ${Math.round(high / MiB)} MiB | ${(high / recordBytes).toFixed(1)} |`);
  }
} finally {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

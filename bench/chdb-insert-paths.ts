/**
 * What an events_raw insert (with its materialized view) costs chDB on each of ChdbStore's insert
 * paths, A/B in one process (issue 13: CPU per event): `select` (the rows as a SQL literal, INSERT
 * ... SELECT FROM format(JSONEachRow, ...)) and `format` (chDB's raw insert, the rows as a buffer).
 * Two stores on one fresh data directory; batches of seed 004 events mapped as the sink maps them
 * (rawEventMapper) go through ChdbStore.insert, the paths alternating which goes first. Each
 * insert's figure is the process CPU from the call until `--after` ms after it returned (the
 * merges it causes land there too), over its rows.
 *
 *   npx tsx bench/chdb-insert-paths.ts [--rows 5000] [--pairs 16] [--after 200]
 *
 * Run with stdin quiet (`< /dev/null`, as the bench tool's shell has it): the `format` path reads
 * a piped stdin (config/QuietStdin.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stdinIsQuiet } from '../config/QuietStdin.js';
import type { LogRecord } from '../log/Log.js';
import type { Row } from '../sink/AnalyticsStore.js';
import { ChdbStore, type ChdbInsertPath } from '../sink/ChdbStore.js';
import { migrate } from '../sink/Migrator.js';
import { rawEventMapper } from '../sink/RowMappers.js';
import { median } from './lib/Percentiles.js';

const option = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const rowsPerInsert = option('rows', 5000);
const pairs = option('pairs', 16);
const afterMs = option('after', 200);
if (!stdinIsQuiet()) throw new Error('stdin is not quiet: run with < /dev/null (the format path would read it)');

const names = ['product_view', 'add_to_cart', 'purchase', 'checkout'];
const channels = ['web', 'mobile', 'api', 'email', 'push'];
let offset = 0;
/** A batch of seed 004 events in the ingress envelope, mapped to events_raw rows. */
function batch(): Row[] {
  const now = Date.now();
  return Array.from({ length: rowsPerInsert }, () => {
    const i = offset++;
    const value = {
      event_id: `evt-${i}-${(i * 2_654_435_761) % 1e9}`,
      event_type: 'product',
      source: 'bench',
      received_at: now,
      payload: { event_name: names[i % 4], channel: channels[i % 5], campaign_id: `camp-${i % 17}`, user_id: `user-${(i * 31) % 50_000}`, timestamp: now - (i % 1000), tags: ['sale'], metadata: { product_id: `SKU-${i % 900}` } },
    };
    const record: LogRecord = { topic: 'events.clean', partition: i % 4, offset: i, key: null, value: Buffer.from(JSON.stringify(value)), headers: {}, timestamp: now };
    return rawEventMapper(value, record) as Row;
  });
}

const cpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-chdb-insert-paths-'));
const stores = {
  select: await ChdbStore.open({ path: dir, insertPath: 'select' }),
  format: await ChdbStore.open({ path: dir, insertPath: 'format' }),
};
try {
  await migrate(stores.select, { eventsTtlDays: 90 });
  const figures: Record<ChdbInsertPath, number[]> = { select: [], format: [] };
  for (let pair = 0; pair < pairs; pair++) {
    const order: ChdbInsertPath[] = pair % 2 === 0 ? ['select', 'format'] : ['format', 'select'];
    for (const side of order) {
      const rows = batch();
      const from = cpuMs();
      await stores[side].insert('events_raw', rows, { dedupToken: `bench:${offset}` });
      await new Promise((resolve) => setTimeout(resolve, afterMs));
      figures[side].push(((cpuMs() - from) * 1000) / rowsPerInsert);
    }
  }
  const [{ n }] = await stores.select.query<{ n: number }>('SELECT count() AS n FROM events_db.events_raw');
  if (n !== pairs * 2 * rowsPerInsert) throw new Error(`events_raw holds ${n} rows, expected ${pairs * 2 * rowsPerInsert}`);
  const [select, format] = [median(figures.select), median(figures.format)];
  console.log(`${pairs} pairs of ${rowsPerInsert}-row inserts into events_raw (+ its view) through ChdbStore.insert, µs of process CPU per row (+${afterMs} ms after each), medians:`);
  console.log(`select: ${select.toFixed(2)}   format: ${format.toFixed(2)}   format / select: ${(format / select).toFixed(2)}`);
} finally {
  await stores.format.close();
  await stores.select.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

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
import { ChdbStore, type ChdbInsertPath } from '../sink/ChdbStore.js';
import { migrate } from '../sink/Migrator.js';
import { mappedEventBatches, numberOption, processCpuMs } from './lib/ChdbInsertBatches.js';
import { median } from './lib/Percentiles.js';

const rowsPerInsert = numberOption('rows', 5000);
const pairs = numberOption('pairs', 16);
const afterMs = numberOption('after', 200);
if (!stdinIsQuiet()) throw new Error('stdin is not quiet: run with < /dev/null (the format path would read it)');
let inserts = 0;
const batch = mappedEventBatches(rowsPerInsert, 50_000);

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
      const from = processCpuMs();
      await stores[side].insert('events_raw', rows, { dedupToken: `bench:${inserts++}` });
      await new Promise((resolve) => setTimeout(resolve, afterMs));
      figures[side].push(((processCpuMs() - from) * 1000) / rowsPerInsert);
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

/**
 * What one sink insert costs chDB under two sets of query settings, A/B in one process (issue 13:
 * CPU per event). A fresh chDB with the analytics schema; batches of seed 004 events mapped as the
 * sink maps them (rawEventMapper) go into events_raw, and so through event_metrics_hourly's view,
 * in the statement ChdbStore.insert makes (INSERT ... SELECT FROM format(JSONEachRow, ...) with the
 * payload as a literal) with the exactly-once settings and then A's or B's in its SETTINGS clause
 * (alternating which goes first). Each insert's figure is the
 * process CPU from building its payload until `--after` ms after it returned (the merges and part
 * clean-up it causes land there too).
 *
 *   npx tsx bench/chdb-insert-settings.ts "<settings A>" "<settings B>" [--rows 1000] [--pairs 30] [--after 150]
 *   e.g. "max_threads = 2, input_format_parallel_parsing = 1" "max_threads = 1, input_format_parallel_parsing = 0"
 *
 * Why per insert and not per event: most of an insert's cost is fixed (a part per table, a dozen
 * files written, later merged and removed; --rows 100 vs 1000 shows it), and how many rows an
 * insert holds depends on how fast the sink's flush rounds go, which follows the machine's load.
 * In the service (bench/service-cpu-split.ts) chDB's µs per event moves with the load for that reason.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Row } from '../sink/AnalyticsStore.js';
import { insertSettings } from '../sink/AnalyticsStore.js';
import { ChdbStore, jsonEachRowLiteral, sqlString } from '../sink/ChdbStore.js';
import { migrate } from '../sink/Migrator.js';
import { mappedEventBatches, numberOption, processCpuMs } from './lib/ChdbInsertBatches.js';
import { median } from './lib/Percentiles.js';

const [settingsA, settingsB] = process.argv.slice(2).filter((arg, i, all) => !arg.startsWith('--') && !all[i - 1]?.startsWith('--'));
if (settingsA === undefined || settingsB === undefined) throw new Error('usage: chdb-insert-settings.ts "<settings A>" "<settings B>" [--rows N] [--pairs N] [--after MS]');
const rowsPerInsert = numberOption('rows', 1000);
const pairs = numberOption('pairs', 30);
const afterMs = numberOption('after', 150);
let inserts = 0;
const batch = mappedEventBatches(rowsPerInsert, 5000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-chdb-insert-settings-'));
const store = await ChdbStore.open({ path: dir });
try {
  await migrate(store, { eventsTtlDays: 90 });
  const columns = await store.query<{ name: string; type: string }>(
    "SELECT name, type FROM system.columns WHERE database = 'events_db' AND table = 'events_raw' AND default_kind = '' ORDER BY position",
  );
  const columnNames = columns.map((c) => `\`${c.name}\``).join(', ');
  const structure = sqlString(columns.map((c) => `\`${c.name}\` ${c.type}`).join(', '));
  const insert = async (rows: Row[], settings: string) => {
    const exactlyOnce = Object.entries(insertSettings(`bench:${inserts++}`)).map(([key, value]) => `${key} = ${typeof value === 'number' ? value : sqlString(value)}`);
    const all = [...exactlyOnce, 'input_format_skip_unknown_fields = 1', ...(settings.trim() ? [settings] : [])].join(', ');
    await store.exec(`INSERT INTO events_db.events_raw (${columnNames}) SETTINGS ${all} SELECT ${columnNames} FROM format(JSONEachRow, ${structure}, ${await jsonEachRowLiteral(rows)})`);
  };
  const figures: Record<'A' | 'B', number[]> = { A: [], B: [] };
  for (let pair = 0; pair < pairs; pair++) {
    const order: Array<['A' | 'B', string]> = pair % 2 === 0 ? [['A', settingsA], ['B', settingsB]] : [['B', settingsB], ['A', settingsA]];
    for (const [side, settings] of order) {
      const rows = batch();
      const from = processCpuMs();
      await insert(rows, settings);
      await new Promise((resolve) => setTimeout(resolve, afterMs));
      figures[side].push(processCpuMs() - from);
    }
  }
  const [{ n }] = await store.query<{ n: number }>('SELECT count() AS n FROM events_db.events_raw');
  if (n !== pairs * 2 * rowsPerInsert) throw new Error(`events_raw holds ${n} rows, expected ${pairs * 2 * rowsPerInsert}`);
  const [a, b] = [median(figures.A), median(figures.B)];
  console.log(`${pairs} pairs of ${rowsPerInsert}-row inserts into events_raw (+ its view), ms of process CPU per insert (+${afterMs} ms after), medians:`);
  console.log(`A (${settingsA || 'engine defaults'}): ${a.toFixed(1)}   B (${settingsB || 'engine defaults'}): ${b.toFixed(1)}   B - A: ${(b - a).toFixed(1)} (${(((b - a) / a) * 100).toFixed(0)} %)`);
} finally {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

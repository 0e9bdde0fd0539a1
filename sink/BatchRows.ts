import type { LogRecord } from '../log/Log.js';
import type { InsertRow, Row } from './AnalyticsStore.js';
import { nextTurn, RECORDS_PER_SLICE } from './EventLoopSlices.js';
import type { RowMapper } from './RowMappers.js';

export interface TableRoute {
  table: string;
  map: RowMapper;
}

export type SkipReason = 'not_json' | 'mapper_error';

/** The rows of one table for a batch (encoded by encodeRow), and for each row the record it was made of. */
export interface TableRows {
  rows: InsertRow[];
  sources: LogRecord[];
}

/** A row as the store will insert it (AnalyticsStore.encodeRow); by default the Row itself. */
export type RowEncoder = (row: Row) => InsertRow;
const asIs: RowEncoder = (row) => row;

type OnSkip = (reason: SkipReason, record: LogRecord, table?: string, error?: unknown) => void;

/**
 * Rows per table of one batch, in record order, each with its source record (so a row the
 * engine refuses can be dead-lettered as the record it came from). A record that is not JSON, or
 * whose mapper throws (or whose row encodeRow cannot encode), makes no row and is reported
 * through onSkip: a poison record never stops a partition. Mapped in slices of recordsPerSlice
 * with a turn of the event loop between them (EventLoopSlices).
 */
export async function batchTables(
  routes: readonly TableRoute[],
  records: readonly LogRecord[],
  onSkip: OnSkip,
  recordsPerSlice = RECORDS_PER_SLICE,
  encodeRow: RowEncoder = asIs,
): Promise<Map<string, TableRows>> {
  const out = new Map<string, TableRows>();
  for (const route of routes) out.set(route.table, { rows: [], sources: [] });
  for (let from = 0; from < records.length; from += recordsPerSlice) {
    if (from > 0) await nextTurn();
    const to = Math.min(records.length, from + recordsPerSlice);
    for (let i = from; i < to; i++) mapRecord(routes, records[i]!, out, onSkip, encodeRow);
  }
  return out;
}

/** batchTables without the sources: rows per table. */
export async function batchRows(
  routes: readonly TableRoute[],
  records: readonly LogRecord[],
  onSkip: OnSkip,
  recordsPerSlice = RECORDS_PER_SLICE,
): Promise<Map<string, InsertRow[]>> {
  const tables = await batchTables(routes, records, onSkip, recordsPerSlice);
  return new Map([...tables].map(([table, { rows }]) => [table, rows]));
}

function mapRecord(routes: readonly TableRoute[], record: LogRecord, out: Map<string, TableRows>, onSkip: OnSkip, encodeRow: RowEncoder): void {
  let value: unknown;
  try {
    value = record.value === null ? null : JSON.parse(record.value.toString('utf8'));
  } catch {
    onSkip('not_json', record);
    return;
  }
  for (const route of routes) {
    let mapped: InsertRow | InsertRow[] | null;
    try {
      const row = route.map(value, record);
      mapped = row === null ? null : Array.isArray(row) ? row.map(encodeRow) : encodeRow(row);
    } catch (error) {
      onSkip('mapper_error', record, route.table, error);
      continue;
    }
    if (mapped === null) continue;
    const table = out.get(route.table)!;
    if (Array.isArray(mapped)) {
      for (const row of mapped) {
        table.rows.push(row);
        table.sources.push(record);
      }
    } else {
      table.rows.push(mapped);
      table.sources.push(record);
    }
  }
}

import type { LogRecord } from '../log/Log.js';
import type { Row } from './AnalyticsStore.js';
import { nextTurn, RECORDS_PER_SLICE } from './EventLoopSlices.js';
import type { RowMapper } from './RowMappers.js';

export interface TableRoute {
  table: string;
  map: RowMapper;
}

export type SkipReason = 'not_json' | 'mapper_error';

/**
 * Rows per table of one batch, in record order. A record that is not JSON, or whose mapper
 * throws, makes no row and is reported through onSkip: a poison record never stops a partition.
 * Mapped in slices of recordsPerSlice with a turn of the event loop between them (EventLoopSlices).
 */
export async function batchRows(
  routes: readonly TableRoute[],
  records: readonly LogRecord[],
  onSkip: (reason: SkipReason, record: LogRecord, table?: string, error?: unknown) => void,
  recordsPerSlice = RECORDS_PER_SLICE,
): Promise<Map<string, Row[]>> {
  const out = new Map<string, Row[]>();
  for (const route of routes) out.set(route.table, []);
  for (let from = 0; from < records.length; from += recordsPerSlice) {
    if (from > 0) await nextTurn();
    const to = Math.min(records.length, from + recordsPerSlice);
    for (let i = from; i < to; i++) mapRecord(routes, records[i]!, out, onSkip);
  }
  return out;
}

function mapRecord(
  routes: readonly TableRoute[],
  record: LogRecord,
  out: Map<string, Row[]>,
  onSkip: (reason: SkipReason, record: LogRecord, table?: string, error?: unknown) => void,
): void {
  let value: unknown;
  try {
    value = record.value === null ? null : JSON.parse(record.value.toString('utf8'));
  } catch {
    onSkip('not_json', record);
    return;
  }
  for (const route of routes) {
    let mapped: Row | Row[] | null;
    try {
      mapped = route.map(value, record);
    } catch (error) {
      onSkip('mapper_error', record, route.table, error);
      continue;
    }
    if (mapped === null) continue;
    const rows = out.get(route.table)!;
    if (Array.isArray(mapped)) rows.push(...mapped);
    else rows.push(mapped);
  }
}

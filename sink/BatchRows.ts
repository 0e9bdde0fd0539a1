import type { LogRecord } from '../log/Log.js';
import type { Row } from './AnalyticsStore.js';
import type { RowMapper } from './RowMappers.js';

export interface TableRoute {
  table: string;
  map: RowMapper;
}

export type SkipReason = 'not_json' | 'mapper_error';

/**
 * Rows per table of one batch, in record order. A record that is not JSON, or whose mapper
 * throws, makes no row and is reported through onSkip: a poison record never stops a partition.
 */
export function batchRows(
  routes: readonly TableRoute[],
  records: readonly LogRecord[],
  onSkip: (reason: SkipReason, record: LogRecord, table?: string, error?: unknown) => void,
): Map<string, Row[]> {
  const out = new Map<string, Row[]>();
  for (const route of routes) out.set(route.table, []);
  for (const record of records) {
    let value: unknown;
    try {
      value = record.value === null ? null : JSON.parse(record.value.toString('utf8'));
    } catch {
      onSkip('not_json', record);
      continue;
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
  return out;
}

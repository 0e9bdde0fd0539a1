import { ClickHouseHttpError, readonlyError } from './ClickHouseErrors.js';

/** The engine limits every read over the interface runs under (CLICKHOUSE_HTTP_MAX_*). */
export interface QueryLimits {
  maxExecutionTimeSeconds: number;
  maxResultRows: number;
  maxResultBytes: number;
  maxMemoryUsage: number;
}

/** Settings a reader may lower but never raise: name → the limit it is checked against. */
const LIMIT_SETTINGS: Record<string, keyof QueryLimits> = {
  max_execution_time: 'maxExecutionTimeSeconds',
  max_result_rows: 'maxResultRows',
  max_result_bytes: 'maxResultBytes',
  max_memory_usage: 'maxMemoryUsage',
};

/**
 * Settings the HTTP layer consumes or that mean nothing here; never passed to the engine.
 * (session_id: SET is refused, so a session has no state to keep; ignoring it is what a stateless
 * read needs.)
 */
export const HTTP_ONLY_SETTINGS = new Set([
  'wait_end_of_query',
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'enable_http_compression',
  'http_zlib_compression_level',
  'http_response_buffer_size',
  'http_wait_end_of_query',
  'cancel_http_readonly_queries_on_client_close',
  'add_http_cors_header',
  'log_comment',
  'session_id',
  'session_timeout',
  'session_check',
  'role',
  'readonly',
]);

/**
 * Settings that change how a read is computed or printed, never what it may touch. Everything
 * else is refused as a readonly=1 server refuses it (Code 164): among them format_template_* and
 * format_schema (they name files), output_format_schema (writes one), allow_* and the *_overflow_mode
 * of limits other than the result's.
 */
const ALLOWED_EXACT = new Set([
  'date_time_output_format',
  'date_time_input_format',
  'session_timezone',
  'join_use_nulls',
  'join_algorithm',
  'max_threads',
  'max_block_size',
  'final',
  'do_not_merge_across_partitions_select_final',
  'aggregate_functions_null_for_empty',
  'enable_analyzer',
  'allow_experimental_analyzer',
  'extremes',
  'totals_mode',
  'cast_keep_nullable',
  'union_default_mode',
  'prefer_column_name_to_alias',
  'joined_subquery_requires_alias',
  'transform_null_in',
  'limit',
  'offset',
  'max_rows_to_read',
  'max_bytes_to_read',
  'max_rows_to_group_by',
  'group_by_overflow_mode',
  'format_csv_delimiter',
  'format_csv_allow_single_quotes',
  'format_csv_allow_double_quotes',
  'format_tsv_null_representation',
  'format_csv_null_representation',
  'result_overflow_mode',
  'timeout_overflow_mode',
  'use_query_cache',
]);

function allowedName(name: string): boolean {
  if (ALLOWED_EXACT.has(name)) return true;
  return name.startsWith('output_format_') && name !== 'output_format_schema';
}

const OVERFLOW_MODES = new Set(['throw', 'break']);

/**
 * Checks one setting a reader asked for (URL parameter or SETTINGS clause) and returns the value
 * to pass on, or undefined when it is the HTTP layer's. Refusals read as ClickHouse's own:
 * 164 READONLY for a setting a read-only user cannot change, 452 SETTING_CONSTRAINT_VIOLATION for
 * a limit above the configured one.
 */
export function checkSetting(name: string, value: string, limits: QueryLimits): string | undefined {
  const lower = name.toLowerCase();
  if (lower === 'readonly') {
    if (value.trim() === '0') throw readonlyError(`Cannot modify 'readonly' setting in readonly mode`);
    return undefined;
  }
  if (HTTP_ONLY_SETTINGS.has(lower)) return undefined;
  const limit = LIMIT_SETTINGS[lower];
  if (limit) {
    const asked = Number(value);
    if (!Number.isFinite(asked) || asked < 0) throw new ClickHouseHttpError(452, 'SETTING_CONSTRAINT_VIOLATION', `Setting ${lower} must be a non-negative number`);
    // 0 means "no limit" to ClickHouse: it is above every configured limit.
    if (asked === 0 || asked > limits[limit]) {
      throw new ClickHouseHttpError(452, 'SETTING_CONSTRAINT_VIOLATION', `Setting ${lower} shouldn't be greater than ${limits[limit]} (nor 0, unlimited) over this interface`);
    }
    return value;
  }
  if (!allowedName(lower)) throw readonlyError(`Cannot modify '${name}' setting in readonly mode`);
  if ((lower === 'result_overflow_mode' || lower === 'timeout_overflow_mode' || lower === 'group_by_overflow_mode') && !OVERFLOW_MODES.has(value.replace(/'/g, ''))) {
    throw new ClickHouseHttpError(452, 'SETTING_CONSTRAINT_VIOLATION', `Setting ${lower} must be 'throw' or 'break'`);
  }
  return value;
}

/** A settings value as SQL: numbers as they are, anything else as a string literal. */
export function settingLiteral(value: string): string {
  if (/^-?\d+(\.\d+)?$/.test(value)) return value;
  if (/^'(?:[^'\\]|\\.)*'$/.test(value)) return value;
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The SETTINGS clause every read carries: the reader's allowed settings, then the limits and
 * readonly=1 (last, so a duplicate can never override them). readonly=1 makes the engine refuse
 * writes, DDL and SET itself, a second wall behind ReadOnlyGuard.
 */
export function engineSettings(userSettings: ReadonlyMap<string, string>, limits: QueryLimits): string {
  const merged = new Map<string, string>();
  for (const [name, value] of userSettings) merged.set(name.toLowerCase(), settingLiteral(value));
  const fixed: Array<[string, string]> = [
    ['max_execution_time', String(limits.maxExecutionTimeSeconds)],
    ['max_result_rows', String(limits.maxResultRows)],
    ['max_result_bytes', String(limits.maxResultBytes)],
    ['max_memory_usage', String(limits.maxMemoryUsage)],
  ];
  for (const [name, value] of fixed) if (!merged.has(name)) merged.set(name, value);
  if (!merged.has('result_overflow_mode')) merged.set('result_overflow_mode', "'throw'");
  if (!merged.has('timeout_overflow_mode')) merged.set('timeout_overflow_mode', "'throw'");
  merged.delete('readonly');
  merged.set('readonly', '1');
  return [...merged].map(([name, value]) => `${name} = ${value}`).join(', ');
}

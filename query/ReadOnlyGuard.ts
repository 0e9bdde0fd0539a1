import { ClickHouseHttpError, accessDenied, readonlyError } from './ClickHouseErrors.js';
import { identifierName, isKeyword, significant, tokenize, type Token } from './SqlTokens.js';

/**
 * What may reach the engine over the HTTP interface: one SELECT / WITH / SHOW / DESCRIBE / EXISTS
 * statement, nothing else. The engine runs every read with readonly=1 as well (QuerySettings), so
 * writes, DDL and SET are refused twice; this guard is the only wall for what readonly=1 lets
 * through: functions that read files, URLs or other servers (`file()` works under readonly=1),
 * system tables that show paths, and settings inside the statement.
 *
 * Deny lists, documented in docs/ANALYTICS.md:
 * - functions and table functions by name (case-insensitive), DENIED_FUNCTIONS and the prefixes;
 * - system tables: only SYSTEM_TABLES_ALLOWED; system.tables, .databases and .parts (their path
 *   columns) only without `*` (other than count(*)), COLUMNS() and the path columns;
 * - INTO OUTFILE, SHOW PROCESSLIST.
 */
export type StatementKind = 'select' | 'show' | 'describe' | 'exists';

export interface GuardedStatement {
  kind: StatementKind;
  /** The statement without its trailing FORMAT, top-level SETTINGS and semicolon. */
  body: string;
  /** FORMAT named in the statement, if any. */
  format: string | undefined;
  /** Settings of the trailing SETTINGS clause, in order (already checked by the caller's policy). */
  settings: Map<string, string>;
  /** True when the top level combines selects (UNION, INTERSECT, EXCEPT). */
  setOperation: boolean;
}

const STARTS: Record<string, StatementKind> = { SELECT: 'select', WITH: 'select', SHOW: 'show', DESCRIBE: 'describe', DESC: 'describe', EXISTS: 'exists' };

const DENIED_FUNCTIONS = new Set(
  [
    'file', 'filecluster', 'url', 'urlcluster', 's3', 's3cluster', 'gcs', 'oss', 'cosn', 'azureblobstorage', 'azureblobstoragecluster',
    'hdfs', 'hdfscluster', 'remote', 'remotesecure', 'cluster', 'clusterallreplicas', 'mysql', 'postgresql', 'mongodb', 'redis',
    'sqlite', 'jdbc', 'odbc', 'input', 'executable', 'executablepool', 'dictionary', 'merge', 'arrowflight', 'arrowflightsql',
    'catboostevaluate', 'ytsaurus', 'prometheusquery', 'prometheusqueryrange', 'timeseriesdata', 'timeseriestags', 'timeseriesmetrics',
    'fuzzjson', 'fuzzquery', 'loop', 'filesystemavailable', 'filesystemcapacity', 'filesystemunreserved', 'getserversetting',
  ],
);
const DENIED_FUNCTION_PREFIXES = ['iceberg', 'deltalake', 'hudi', 'paimon', 'mergetree', 'azure', 'hdfs', 's3', 'remote', 'executable', 'dictget', 'dicthas'];

export const SYSTEM_TABLES_ALLOWED = new Set([
  'one', 'numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'columns', 'tables', 'databases', 'parts', 'functions', 'table_functions',
  'formats', 'data_type_families', 'time_zones', 'settings', 'merge_tree_settings', 'aggregate_function_combinators',
  'table_engines', 'database_engines', 'events', 'metrics', 'asynchronous_metrics',
]);
const SYSTEM_TABLES_WITH_PATHS = new Set(['tables', 'databases', 'parts']);
const PATH_COLUMNS = new Set(['data_path', 'data_paths', 'metadata_path', 'path', 'disk_name', 'metadata_modification_time']);

function deniedFunction(name: string): boolean {
  const lower = name.toLowerCase();
  return DENIED_FUNCTIONS.has(lower) || DENIED_FUNCTION_PREFIXES.some((prefix) => lower.startsWith(prefix));
}

function parseSettingsList(tokens: Token[], from: number, end: number): Map<string, string> {
  const settings = new Map<string, string>();
  let i = from;
  while (i < end) {
    const name = identifierName(tokens[i]!);
    if (!name || tokens[i + 1]?.text !== '=') throw new ClickHouseHttpError(62, 'SYNTAX_ERROR', 'Syntax error: expected name = value in SETTINGS');
    i += 2;
    let value = '';
    if (tokens[i]?.text === '-') {
      value = '-';
      i++;
    }
    const literal = tokens[i];
    if (!literal || !(literal.kind === 'number' || literal.kind === 'string' || literal.kind === 'word')) {
      throw new ClickHouseHttpError(62, 'SYNTAX_ERROR', `Syntax error: expected a literal value for setting ${name}`);
    }
    settings.set(name, value + literal.text);
    i++;
    if (i < end) {
      if (tokens[i]!.text !== ',') throw new ClickHouseHttpError(62, 'SYNTAX_ERROR', 'Syntax error: expected "," between settings');
      i++;
    }
  }
  return settings;
}

/** True when tokens[i] is the SETTINGS keyword of a clause (not a column or `system.settings`). */
function isSettingsClause(tokens: Token[], i: number): boolean {
  return isKeyword(tokens[i], 'SETTINGS') && tokens[i - 1]?.text !== '.' && identifierName(tokens[i + 1] ?? tokens[i]!) !== undefined && tokens[i + 2]?.text === '=';
}

/** Where a SETTINGS list starting at `from` ends: the first token that cannot continue it. */
function endOfSettings(tokens: Token[], from: number): number {
  let i = from;
  while (i < tokens.length) {
    if (!identifierName(tokens[i]!) || tokens[i + 1]?.text !== '=') return i;
    i += 2;
    if (tokens[i]?.text === '-') i++;
    i++;
    if (tokens[i]?.text !== ',') return i;
    i++;
  }
  return i;
}

/**
 * Checks `sql` (parameters already substituted) and splits off what the interface handles itself.
 * `checkSetting` validates every setting named anywhere in the statement, subqueries included.
 */
export function guardReadOnly(sql: string, checkSetting: (name: string, value: string) => void): GuardedStatement {
  const all = tokenize(sql);
  let tokens = significant(all);
  while (tokens.length > 0 && tokens[tokens.length - 1]!.text === ';') tokens = tokens.slice(0, -1);
  if (tokens.length === 0) throw new ClickHouseHttpError(62, 'SYNTAX_ERROR', 'Syntax error: empty query');
  if (tokens.some((token) => token.text === ';')) throw new ClickHouseHttpError(62, 'SYNTAX_ERROR', 'Syntax error (Multi-statements are not allowed)');

  let first = 0;
  while (tokens[first]?.text === '(') first++;
  const startWord = tokens[first]?.kind === 'word' ? tokens[first]!.text.toUpperCase() : '';
  const kind = STARTS[startWord];
  if (!kind) throw readonlyError(`${startWord || 'This statement'} is not a read (only SELECT, WITH, SHOW, DESCRIBE, EXISTS)`);

  // SHOW PROCESSLIST is system.processes: the OS user, host names and every running query's text.
  if (kind === 'show' && tokens.some((token) => isKeyword(token, 'PROCESSLIST'))) throw accessDenied('SHOW PROCESSLIST is not available over this interface');

  let depth = 0;
  let format: string | undefined;
  let formatAt = -1;
  let settingsAt = -1;
  let settingsEnd = -1;
  let setOperation = false;
  const referencesPathTables: boolean[] = [];
  const starOutsideCount: boolean[] = [];
  const pathColumns: string[] = [];

  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.text === '(') depth++;
    else if (token.text === ')') depth--;
    const name = identifierName(token);
    if (token.kind === 'word' || token.kind === 'quoted_identifier') {
      if (tokens[i + 1]?.text === '(' && tokens[i - 1]?.text !== '.' && deniedFunction(name!)) {
        throw accessDenied(`function or table function ${name}() is not allowed over this interface (it reads files, URLs or other servers)`);
      }
      if (name!.toLowerCase() === 'system' && tokens[i + 1]?.text === '.' && tokens[i + 2]) {
        const table = identifierName(tokens[i + 2]!)?.toLowerCase() ?? '';
        if (!SYSTEM_TABLES_ALLOWED.has(table)) throw accessDenied(`system.${table} is not readable over this interface`);
        if (SYSTEM_TABLES_WITH_PATHS.has(table)) referencesPathTables.push(true);
      }
      if (PATH_COLUMNS.has(name!.toLowerCase()) || (token.kind === 'word' && token.text.toUpperCase() === 'COLUMNS' && tokens[i + 1]?.text === '(')) pathColumns.push(name!);
      if (isKeyword(token, 'INTO') && isKeyword(tokens[i + 1], 'OUTFILE')) throw readonlyError('INTO OUTFILE');
      if (depth === 0 && (isKeyword(token, 'UNION') || isKeyword(token, 'INTERSECT') || isKeyword(token, 'EXCEPT')) && tokens[i - 1]?.text !== '*') setOperation = true;
      if (isSettingsClause(tokens, i)) {
        const end = endOfSettings(tokens, i + 1);
        for (const [setting, value] of parseSettingsList(tokens, i + 1, end)) checkSetting(setting, value);
        if (depth === 0) {
          if (settingsAt >= 0) throw new ClickHouseHttpError(62, 'SYNTAX_ERROR', 'Syntax error: more than one top-level SETTINGS clause');
          settingsAt = i;
          settingsEnd = end;
        }
      }
      if (depth === 0 && isKeyword(token, 'FORMAT') && tokens[i + 1]?.kind === 'word' && tokens[i + 2]?.text !== '(' && tokens[i - 1]?.text !== '.') {
        format = tokens[i + 1]!.text;
        formatAt = i;
      }
    }
    if (token.text === '*') {
      const isCount = tokens[i - 1]?.text === '(' && tokens[i + 1]?.text === ')' && /^count$/i.test(tokens[i - 2]?.text ?? '');
      if (!isCount) starOutsideCount.push(true);
    }
  }
  if (referencesPathTables.length > 0 && (starOutsideCount.length > 0 || pathColumns.length > 0)) {
    throw accessDenied(`system.tables, system.databases and system.parts are readable by named columns only, without path columns (${pathColumns.join(', ') || '*'})`);
  }

  // The tail: [SETTINGS ...] [FORMAT name] in either order, and nothing after them.
  const tailStart = Math.min(...[formatAt, settingsAt].filter((at) => at >= 0), tokens.length);
  const tailParts = [
    ...(formatAt >= 0 ? [[formatAt, formatAt + 2]] : []),
    ...(settingsAt >= 0 ? [[settingsAt, settingsEnd]] : []),
  ].sort((a, b) => a[0]! - b[0]!);
  let expected = tailStart;
  for (const [from, to] of tailParts) {
    if (from !== expected) throw new ClickHouseHttpError(62, 'SYNTAX_ERROR', 'Syntax error: FORMAT and SETTINGS must end the query');
    expected = to!;
  }
  if (expected !== tokens.length) throw new ClickHouseHttpError(62, 'SYNTAX_ERROR', `Syntax error: unexpected "${tokens[expected]?.text}" after FORMAT/SETTINGS`);

  const settings = settingsAt >= 0 ? parseSettingsList(tokens, settingsAt + 1, settingsEnd) : new Map<string, string>();
  const bodyEnd = tailStart < tokens.length ? tokens[tailStart]!.start : tokens[tokens.length - 1]!.start + tokens[tokens.length - 1]!.text.length;
  const body = sql.slice(0, bodyEnd).trimEnd();
  return { kind, body, format, settings, setOperation };
}

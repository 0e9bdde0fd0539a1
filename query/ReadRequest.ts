import { ClickHouseHttpError } from './ClickHouseErrors.js';
import { substituteParameters } from './QueryParameters.js';
import { checkSetting, engineSettings, type QueryLimits } from './QuerySettings.js';
import { guardReadOnly, type StatementKind } from './ReadOnlyGuard.js';
import { DEFAULT_HTTP_FORMAT, outputFormat } from './ResponseFormats.js';
import { tokenize } from './SqlTokens.js';

/** URL parameters that are not settings: the HTTP interface's own (ClickHouse's list, less sessions). */
const REQUEST_PARAMETERS = new Set(['query', 'database', 'default_format', 'query_id', 'user', 'password', 'quota_key', 'buffer_size', 'stacktrace', 'role']);

export interface ReadRequestInput {
  params: URLSearchParams;
  /** The request body (already decompressed); '' for none. */
  body: string;
  /** X-ClickHouse-Database / X-ClickHouse-Format headers, which clients may send instead of parameters. */
  databaseHeader?: string;
  formatHeader?: string;
  limits: QueryLimits;
  /** The database of the embedded store (events_db): the only one besides system and default. */
  database: string;
  maxQueryBytes: number;
}

export interface ReadRequest {
  kind: StatementKind;
  /** What the engine runs: the guarded statement with its SETTINGS clause (limits, readonly=1). */
  sql: string;
  format: { name: string; contentType: string };
  /** enable_http_compression=1 asked for a compressed response. */
  compression: boolean;
}

/**
 * Unqualified names resolve in the store's database whatever the client says (the session is
 * shared with the sink, so no USE per request): `default`, what clients send when they mean "no
 * preference", is accepted as the same; anything else is refused rather than silently ignored.
 * Other databases' tables are read qualified (system.columns).
 */
const READABLE_DATABASES = new Set(['default']);

/**
 * One HTTP request as the statement the engine runs. ClickHouse's rules: the query is ?query=
 * followed by the body (joined by a newline); FORMAT in the query wins over default_format, which
 * wins over TabSeparated; every other URL parameter is a setting.
 */
export function readRequest(input: ReadRequestInput): ReadRequest {
  const { params, limits } = input;
  const text = [params.get('query') ?? '', input.body].filter((part) => part.trim() !== '').join('\n');
  if (text.trim() === '') throw new ClickHouseHttpError(62, 'SYNTAX_ERROR', 'Empty query');
  if (Buffer.byteLength(text, 'utf8') > input.maxQueryBytes) {
    throw new ClickHouseHttpError(62, 'SYNTAX_ERROR', `Max query size exceeded (${input.maxQueryBytes} bytes, CLICKHOUSE_HTTP_MAX_QUERY_SIZE)`, 413);
  }
  if (params.get('compress') === '1' || params.get('decompress') === '1') {
    throw new ClickHouseHttpError(36, 'BAD_ARGUMENTS', "ClickHouse's native block compression (compress=1, decompress=1) is not served here; use HTTP compression (enable_http_compression=1 and Accept-Encoding)");
  }

  const database = params.get('database') ?? input.databaseHeader;
  if (database !== undefined && database !== input.database && !READABLE_DATABASES.has(database)) {
    throw new ClickHouseHttpError(81, 'UNKNOWN_DATABASE', `Database ${database} cannot be the current database here: unqualified names resolve in ${input.database}; qualify others (system.columns)`);
  }

  const paramValues = new Map<string, string>();
  const urlSettings = new Map<string, string>();
  let compression = false;
  for (const [key, value] of params) {
    if (key.startsWith('param_')) paramValues.set(key.slice('param_'.length), value);
    else if (key === 'enable_http_compression') compression = value === '1' || value.toLowerCase() === 'true';
    else if (!REQUEST_PARAMETERS.has(key)) {
      const kept = checkSetting(key, value, limits);
      if (kept !== undefined) urlSettings.set(key, kept);
    }
  }

  const substituted = substituteParameters(tokenize(text), paramValues);
  const guarded = guardReadOnly(substituted, (name, value) => void checkSetting(name, value, limits));
  const clauseSettings = new Map<string, string>();
  for (const [name, value] of guarded.settings) {
    const kept = checkSetting(name, value, limits);
    if (kept !== undefined) clauseSettings.set(name, kept);
  }
  const format = outputFormat(guarded.format ?? params.get('default_format') ?? input.formatHeader ?? DEFAULT_HTTP_FORMAT);
  // A trailing SETTINGS clause binds to the last SELECT of a UNION only (measured): the limits must
  // cover the whole result, so a set operation is read through a subquery.
  const body = guarded.kind === 'select' && guarded.setOperation ? `SELECT * FROM (\n${guarded.body}\n)` : guarded.body;
  const settings = engineSettings(new Map([...urlSettings, ...clauseSettings]), limits);
  return { kind: guarded.kind, sql: `${body}\nSETTINGS ${settings}`, format, compression };
}

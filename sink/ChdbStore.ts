import path from 'node:path';
import fs from 'node:fs';
import type { Session } from 'chdb';

// chDB's native library (~0.2 s to load) is loaded by the first open, not by importing this
// module: a process with a ClickHouse server, or without the sink role, never pays for it.
const loadChdb = () => import('chdb');
import { stdinIsQuiet } from '../config/QuietStdin.js';
import { nextTurn, ROWS_PER_SLICE } from './EventLoopSlices.js';
import { type AnalyticsStore, type QueryParams, type Row, type InsertRow, type InsertOptions, assertIdentifier, chunkRows, insertSettings, answersSelectOne } from './AnalyticsStore.js';
import { isPlainIdentifier } from '../config/PlainIdentifier.js';

export interface ChdbStoreOptions {
  /** Data directory of the engine (e.g. ./data/chdb). Created when missing. */
  path: string;
  database?: string;
  /** Rows per INSERT statement; larger inserts are split (chDB holds the whole payload in memory). */
  maxRowsPerInsert?: number;
  /**
   * ClickHouse's max_memory_usage: what one query (or insert) may allocate before the engine
   * refuses it with code 241 (MEMORY_LIMIT_EXCEEDED). From the memory plan (app/MemoryBudget.ts,
   * CHDB_MAX_MEMORY_USAGE); 0 or undefined = the engine's default (no per-query limit).
   */
  maxMemoryUsageBytes?: number;
  /**
   * ClickHouse's max_server_memory_usage: what the whole engine may allocate (every query, merges,
   * caches). Counted by the engine's own memory tracker, not the process RSS: it leaves out the
   * engine's code and static data (~200 MB resident once loaded) and everything Node allocates.
   * 0 or undefined = the engine's default (0.9 of the machine's RAM).
   */
  maxServerMemoryUsageBytes?: number;
  /**
   * How insert() hands rows to the engine (see ChdbStore). Default: `format` when the process's
   * stdin is quiet (a terminal or /dev/null: app/main.ts makes it so), else `select`.
   */
  insertPath?: ChdbInsertPath;
}

/**
 * `format`: INSERT ... FORMAT JSONEachRow with the rows as a buffer (chDB's raw insert).
 * `select`: INSERT ... SELECT FROM format(JSONEachRow, structure, <rows as a SQL literal>).
 */
export type ChdbInsertPath = 'format' | 'select';

/**
 * chDB binds ONE data directory per process (libchdb's connection registry). Two stores on
 * different paths in one process would close each other's connection under running queries, so
 * a second path is refused here with a clear message instead of failing somewhere later.
 */
let openPath: string | null = null;
let openCount = 0;

interface ColumnInfo {
  /** Quoted for SQL text. */
  names: string[];
  /** For chDB's raw insert, which takes plain identifiers only; undefined when a name is not one. */
  plainNames: string[] | undefined;
  structure: string;
}

/**
 * AnalyticsStore over chDB, the ClickHouse engine in-process.
 *
 * Two insert paths (ChdbInsertPath), the same rows and block ids:
 * - `format` (the default when stdin is quiet): INSERT ... FORMAT JSONEachRow, the rows handed
 *   over as a buffer and parsed by the engine's input format. ~3x cheaper per row than `select`
 *   (BENCHMARKS.md, "chDB inserts without a SQL literal"). But an INSERT whose data follows the
 *   statement makes the engine probe the process's stdin for external data (chdb-core issue 239):
 *   data waiting there fails the insert with code 48. A terminal or /dev/null never holds any.
 * - `select`: INSERT ... SELECT ... FROM format(JSONEachRow, structure, '<rows>'), which never
 *   touches stdin, for a process whose stdin is a pipe, a file or a socket (a pipeline embedded
 *   in another program, a test runner). The explicit structure (read from system.columns) maps
 *   JSON fields by name; without it the engine would infer types and map columns by position.
 *
 * Both name the same columns and parse serially (input_format_parallel_parsing = 0), so a block
 * gets the same ids under the same insert_deduplication_token on either path
 * (test/sink/chdb-insert-paths): a batch written through one and replayed through the other after
 * a restart is dropped as a duplicate. With parallel parsing, a payload over its 10 MiB segment
 * is cut into blocks differently by the two paths, and such a replay was inserted twice.
 */
export class ChdbStore implements AnalyticsStore {
  readonly kind = 'chdb' as const;
  readonly database: string;
  readonly maxRowsPerInsert: number;
  readonly insertPath: ChdbInsertPath;
  private readonly columns = new Map<string, Promise<ColumnInfo>>();
  private closed = false;

  private constructor(
    private readonly session: Session,
    readonly dataPath: string,
    options: ChdbStoreOptions,
  ) {
    this.database = assertIdentifier(options.database ?? 'events_db', 'database');
    this.maxRowsPerInsert = options.maxRowsPerInsert ?? 10_000;
    this.insertPath = options.insertPath ?? (stdinIsQuiet() ? 'format' : 'select');
  }

  static async open(options: ChdbStoreOptions): Promise<ChdbStore> {
    const dataPath = path.resolve(options.path);
    const { Session, drainPending } = await loadChdb();
    // Checked after the load's await, so two opens racing on different paths cannot both pass.
    if (openPath !== null && openPath !== dataPath) {
      throw new Error(`chDB is already open on ${openPath} in this process; one engine per process and data path (asked for ${dataPath})`);
    }
    if (openPath === null) await drainPending();
    fs.mkdirSync(dataPath, { recursive: true });
    const session = new Session(dataPath, { connectionArgs: chdbConnectionArgs(options) });
    openPath = dataPath;
    openCount++;
    const store = new ChdbStore(session, dataPath, options);
    await store.exec(`CREATE DATABASE IF NOT EXISTS ${store.database}`);
    return store;
  }

  async exec(sql: string, params?: QueryParams): Promise<void> {
    this.assertOpen();
    if (/^\s*INSERT\b/i.test(sql) && !/\bSELECT\b/i.test(sql)) {
      throw new Error('ChdbStore.exec: INSERT ... VALUES/FORMAT would read the process stdin (chdb-core #239); use insert() or INSERT ... SELECT');
    }
    if (params) await this.session.queryBindAsync(sql, params, { format: 'JSONEachRow' });
    else await this.session.queryAsync(sql, { format: 'JSONEachRow' });
  }

  async query<T = Row>(sql: string, params?: QueryParams): Promise<T[]> {
    this.assertOpen();
    const result = params
      ? await this.session.queryBindAsync(sql, params, { format: 'JSONEachRow' })
      : await this.session.queryAsync(sql, { format: 'JSONEachRow' });
    return parseJsonEachRow<T>(result.text());
  }

  /** The row's JSONEachRow line: what insert() sends for it (AnalyticsStore.encodeRow). */
  encodeRow(row: Row): string {
    return JSON.stringify(row);
  }

  async insert(table: string, rows: readonly InsertRow[], options: InsertOptions): Promise<void> {
    this.assertOpen();
    if (rows.length === 0) return;
    const columns = await this.columnsOf(table);
    for (const chunk of chunkRows(rows, options.dedupToken, this.maxRowsPerInsert)) {
      const settings = { ...insertSettings(chunk.token), input_format_skip_unknown_fields: 1, input_format_parallel_parsing: 0 };
      // A table with a column name chDB's raw insert refuses (an extension's `my-col`) takes the
      // literal path: the same block ids, so the choice per table is safe.
      if (this.insertPath === 'format' && columns.plainNames) {
        const bytes = await jsonEachRowBytes(chunk.rows);
        this.assertOpen(); // building the payload yields to the event loop; close() may have run
        await this.session.insert({ table: `${this.database}.${table}`, values: bytes, format: 'JSONEachRow', columns: columns.plainNames, settings });
        continue;
      }
      const lines = await jsonEachRowLines(chunk.rows);
      this.assertOpen();
      // The rows are a literal in the SQL text (a heredoc, see rawStringLiteral), not a bound
      // parameter: chDB's parameter transport escapes char by char in JS and serialises all bound
      // queries of the process (the sink spent more time there than in the insert itself).
      // max_query_size is raised at connect for it (MAX_QUERY_BYTES).
      const settingsText = Object.entries(settings)
        .map(([key, value]) => `${key} = ${typeof value === 'number' ? value : sqlString(value)}`)
        .join(', ');
      const names = columns.names.join(', ');
      await this.session.queryAsync(
        `INSERT INTO ${this.database}.${table} (${names}) SETTINGS ${settingsText} ` +
          `SELECT ${names} FROM format(JSONEachRow, ${sqlString(columns.structure)}, ${rawStringLiteral(lines)})`,
        { format: 'JSONEachRow' },
      );
    }
  }

  async ping(): Promise<boolean> {
    return !this.closed && answersSelectOne(this);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.session.close();
    openCount--;
    if (openCount === 0) {
      openPath = null;
      // close() returns before the native connection is gone when work is still running on it;
      // the next Session (maybe on another path, e.g. the next test file) must wait for that.
      await (await loadChdb()).drainPending();
    }
  }

  private columnsOf(table: string): Promise<ColumnInfo> {
    assertIdentifier(table, 'table');
    let info = this.columns.get(table);
    if (!info) {
      info = this.query<{ name: string; type: string }>(
        `SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {table:String} ` +
          `AND default_kind NOT IN ('MATERIALIZED', 'ALIAS', 'EPHEMERAL') ORDER BY position`,
        { db: this.database, table },
      ).then((cols) => {
        if (cols.length === 0) throw new Error(`table ${this.database}.${table} does not exist (migrations not applied?)`);
        return {
          names: cols.map((c) => `\`${c.name}\``),
          plainNames: cols.every((c) => isPlainIdentifier(c.name)) ? cols.map((c) => c.name) : undefined,
          structure: cols.map((c) => `\`${c.name}\` ${c.type}`).join(', '),
        };
      });
      info.catch(() => this.columns.delete(table));
      this.columns.set(table, info);
    }
    return info;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('ChdbStore is closed');
  }
}

/**
 * The engine's command line. Memory limits go here: chDB takes max_server_memory_usage only at
 * connect (it is a server setting), and max_memory_usage given here is every query's default.
 */
export function chdbConnectionArgs(options: Pick<ChdbStoreOptions, 'maxMemoryUsageBytes' | 'maxServerMemoryUsageBytes'>): string[] {
  // Same JSON output as the server path (where the client sets the same setting): UInt64
  // counts as numbers, not quoted strings.
  const args = ['--output_format_json_quote_64bit_integers=0', `--max_query_size=${MAX_QUERY_BYTES}`];
  if (options.maxMemoryUsageBytes) args.push(`--max_memory_usage=${Math.floor(options.maxMemoryUsageBytes)}`);
  if (options.maxServerMemoryUsageBytes) args.push(`--max_server_memory_usage=${Math.floor(options.maxServerMemoryUsageBytes)}`);
  return args;
}

/** Insert statements carry their rows as a string literal (see insert()). */
const MAX_QUERY_BYTES = 1 << 30;

/**
 * A ClickHouse string literal. Only the backslash and the quote need escaping (a raw newline is
 * fine inside a literal); two native replaces, no per-character JS (the payloads are megabytes).
 */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The tag of the heredoc literal ($tag$...$tag$) that carries insert payloads. A heredoc's text is
 * taken as it is, nothing escaped, so the payload needs no pass doubling its backslashes (JSON text
 * columns such as payload are full of them) and quoting its quotes: with sqlString that pass cost
 * ~8 µs of the sink thread's CPU per row, three times JSON.stringify itself (seed 004 events_raw
 * rows; BENCHMARKS.md, issue 13). The engine reads the same string either way.
 */
const HEREDOC_TAG = '$streamline_rows$';
/** The tag less its last '$': a text ending with it, then the closing tag, holds the tag one char early (the tag begins with '$'). */
const HEREDOC_TAG_UNCLOSED = HEREDOC_TAG.slice(0, -1);

/**
 * text as a ClickHouse string literal: a heredoc, or sqlString when the heredoc would end before
 * the text does. The lexer ends a heredoc at the first tag after the opening one, so the text
 * must not hold the tag, nor end with the tag less its last '$' (that and the closing tag's first
 * '$' make a tag one char early). A JSONEachRow payload ends with '}', but this is exported.
 */
export function rawStringLiteral(text: string): string {
  return text.includes(HEREDOC_TAG) || text.endsWith(HEREDOC_TAG_UNCLOSED) ? sqlString(text) : HEREDOC_TAG + text + HEREDOC_TAG;
}

/**
 * The rows as JSONEachRow text (a string is a row's line already: encodeRow), the lines built
 * ROWS_PER_SLICE rows at a time with a turn of the event loop between slices (EventLoopSlices).
 */
export async function jsonEachRowLines(rows: readonly InsertRow[]): Promise<string> {
  const slices: string[] = [];
  for (let from = 0; from < rows.length; from += ROWS_PER_SLICE) {
    if (from > 0) await nextTurn();
    const lines = new Array<string>(Math.min(ROWS_PER_SLICE, rows.length - from));
    for (let i = 0; i < lines.length; i++) {
      const row = rows[from + i]!;
      lines[i] = typeof row === 'string' ? row : JSON.stringify(row);
    }
    slices.push(lines.join('\n'));
  }
  return slices.join('\n');
}

/**
 * jsonEachRowLines as UTF-8 bytes, written line by line into one buffer: the `format` insert
 * path's payload. Array.join of a batch's lines cost ~2 µs per 650-byte row (a fifth of the
 * sink's JavaScript per row under bulk load); writing them into a buffer ~0.3 µs, and chDB takes
 * the bytes without converting a string (BENCHMARKS.md, "The sink's insert payload as bytes").
 */
export async function jsonEachRowBytes(rows: readonly InsertRow[]): Promise<Buffer> {
  let buffer: Buffer = Buffer.allocUnsafe(estimatedBytes(rows));
  let at = 0;
  for (let from = 0; from < rows.length; from += ROWS_PER_SLICE) {
    if (from > 0) await nextTurn();
    const to = Math.min(rows.length, from + ROWS_PER_SLICE);
    for (let i = from; i < to; i++) {
      const row = rows[i]!;
      const line = typeof row === 'string' ? row : JSON.stringify(row);
      // A UTF-16 unit takes at most 3 bytes; only a line that might not fit is measured.
      if (buffer.length - at < line.length * 3 + 1) {
        const needed = Buffer.byteLength(line) + 1;
        if (buffer.length - at < needed) buffer = grown(buffer, at, needed);
      }
      if (i > 0) buffer[at++] = 0x0a;
      at += buffer.write(line, at);
    }
  }
  return buffer.subarray(0, at);
}

/** One byte per UTF-16 unit of the lines already encoded (a guess for the others), plus the newlines. */
function estimatedBytes(rows: readonly InsertRow[]): number {
  let bytes = rows.length;
  for (const row of rows) bytes += typeof row === 'string' ? row.length : 256;
  return bytes;
}

function grown(buffer: Buffer, used: number, needed: number): Buffer {
  const next = Buffer.allocUnsafe(Math.max(buffer.length * 2, used + needed));
  buffer.copy(next, 0, 0, used);
  return next;
}

/** rawStringLiteral(jsonEachRowLines(rows)): the `select` insert path's payload. */
export async function jsonEachRowLiteral(rows: readonly InsertRow[]): Promise<string> {
  return rawStringLiteral(await jsonEachRowLines(rows));
}

export function parseJsonEachRow<T>(text: string): T[] {
  const rows: T[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() !== '') rows.push(JSON.parse(line) as T);
  }
  return rows;
}

import { isPlainIdentifier } from '../config/PlainIdentifier.js';
/**
 * The analytics store: where the sink writes rows and the seed 004 query reads them.
 *
 * Two implementations, one contract, the same SQL strings:
 * - ChdbStore (sink/ChdbStore.ts): the ClickHouse engine in-process through the `chdb` package,
 *   data under the data dir. The embedded default.
 * - ClickHouseServerStore (sink/ClickHouseServerStore.ts): a ClickHouse server through
 *   @clickhouse/client (CLICKHOUSE_URL or CLICKHOUSE_HOST/PORT/...).
 *
 * Statements name their tables with the database (`events_db.events_raw`), so the same text runs
 * on a chDB session (whose current database is `default`) and on a server connection.
 * Parameters use ClickHouse's server-side binding, `{name:Type}`, supported by both.
 */
export type QueryParams = Record<string, string | number | boolean | string[] | number[]>;

export type Row = Record<string, unknown>;

/**
 * A row as the sink hands it to insert(): the Row, or what the store's encodeRow made of it when
 * the store has one (a string: the row's JSONEachRow line).
 */
export type InsertRow = Row | string;

export interface InsertOptions {
  /**
   * insert_deduplication_token of the block. A block whose token the table has seen within its
   * deduplication window is dropped, in the table and (with
   * deduplicate_blocks_in_dependent_materialized_views=1) in every materialized view fed by it.
   * When rows are split into several inserts (see maxRowsPerInsert) chunk i carries `${token}/${i}`.
   */
  dedupToken: string;
}

export interface AnalyticsStore {
  readonly kind: 'chdb' | 'server';
  /** Database holding every table of ours (default events_db). */
  readonly database: string;
  /** Rows per INSERT statement: insert() splits larger row sets into chunks of this size. */
  readonly maxRowsPerInsert: number;
  /** DDL and other statements without a result. Never an INSERT ... VALUES (see ChdbStore). */
  exec(sql: string, params?: QueryParams): Promise<void>;
  /** A SELECT; rows as JSON objects (64-bit integers as numbers when they fit: see README). */
  query<T = Row>(sql: string, params?: QueryParams): Promise<T[]>;
  /**
   * Inserts rows (objects keyed by column name, or encodeRow's lines) as one deduplicated block,
   * chunked if large.
   */
  insert(table: string, rows: readonly InsertRow[], options: InsertOptions): Promise<void>;
  /**
   * Optional: the row as the store wants it held until its insert, called as each record is
   * mapped. ChdbStore serializes it there and then, so the row object dies young instead of
   * living through the whole flush round (a round holds up to 10,000 rows: promoted to V8's old
   * generation, they cost the stream thread more in GC than the serializing itself). Must give
   * what insert() would make of the Row, so a replayed batch is the same block.
   */
  encodeRow?(row: Row): InsertRow;
  /** True when the engine answers a trivial query right now. Never throws. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** Settings every insert carries; the reason for each is the exactly-once guarantee (README.md "Guarantees"). */
/** ping() for every store: the same trivial SELECT on both engines; any failure means "not answering". */
export async function answersSelectOne(store: Pick<AnalyticsStore, 'query'>): Promise<boolean> {
  try {
    const rows = await store.query<{ ok: number }>('SELECT 1 AS ok');
    return rows[0]?.ok === 1;
  } catch {
    return false;
  }
}

export function insertSettings(dedupToken: string): Record<string, string | number> {
  return {
    insert_deduplicate: 1,
    insert_deduplication_token: dedupToken,
    // Without this a replayed block is dropped in the table but counted again in the MVs.
    deduplicate_blocks_in_dependent_materialized_views: 1,
    // Deduplication of async inserts follows other rules; our batches are already large.
    async_insert: 0,
  };
}

/** Splits rows into chunks of at most max rows with per-chunk tokens; deterministic by design. */
export function chunkRows<T>(rows: readonly T[], dedupToken: string, max: number): Array<{ rows: readonly T[]; token: string }> {
  if (rows.length <= max) return [{ rows, token: dedupToken }];
  const chunks: Array<{ rows: readonly T[]; token: string }> = [];
  for (let i = 0; i * max < rows.length; i++) {
    chunks.push({ rows: rows.slice(i * max, (i + 1) * max), token: `${dedupToken}/${i}` });
  }
  return chunks;
}


/** Identifiers we interpolate into SQL (database and table names) must be plain. */
export function assertIdentifier(name: string, what: string): string {
  if (!isPlainIdentifier(name)) throw new Error(`${what} "${name}" is not a plain identifier`);
  return name;
}

import { assertIdentifier, type AnalyticsStore } from './AnalyticsStore.js';

/**
 * The sink's tables, emptied or cut back for `streamline reprocess` (bin/commands/reprocess.ts).
 *
 * A reprocess moves the sink's group to the end of its input topics (so what it wrote before is
 * never read again) and lets the topology write its outputs once more after that end. The rows
 * those old records made must go, or every table would hold them twice. Rows made from records
 * of other topics (none by default) stay.
 */
export const MV_TARGET = 'event_metrics_hourly';
const WINDOWS_TABLE = 'window_aggregates';

/** Where a table's rows start to be stale: per source topic partition, the first offset to drop. */
export type CutOffsets = ReadonlyMap<string, ReadonlyMap<number, number>>;

export interface RebuildResult {
  /** Rows per table before, and after the rebuild. */
  before: Record<string, number>;
  after: Record<string, number>;
}

async function count(store: AnalyticsStore, table: string): Promise<number> {
  const [row] = await store.query<{ n: number | string }>(`SELECT count() AS n FROM ${store.database}.${table}`);
  return Number(row?.n ?? 0);
}

async function exists(store: AnalyticsStore, table: string): Promise<boolean> {
  const rows = await store.query<{ n: number | string }>('SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = {t:String}', { db: store.database, t: table });
  return Number(rows[0]?.n ?? 0) > 0;
}

/**
 * Everything from scratch (reprocess --from earliest): the route tables, the view's target and
 * the sink's batch log are truncated. Truncating does not clear MergeTree's deduplication window,
 * which is harmless here: the rebuilt rows come from new offsets and so carry new tokens.
 */
export async function truncateSinkTables(store: AnalyticsStore, tables: readonly string[]): Promise<RebuildResult> {
  const all = [...new Set([...tables, MV_TARGET, 'sink_batches'])].map((table) => assertIdentifier(table, 'table'));
  const before: Record<string, number> = {};
  const after: Record<string, number> = {};
  for (const table of all) {
    if (!(await exists(store, table))) continue;
    before[table] = await count(store, table);
    await store.exec(`TRUNCATE TABLE ${store.database}.${table}`);
    after[table] = await count(store, table);
  }
  return { before, after };
}

/**
 * From a point in time (reprocess --from <time>): rows made from source records at or past the
 * cut are deleted (every route table keeps the source topic, partition and offset of its rows;
 * window_aggregates: the windows ending after the time),
 * the rest stay; the view's target is rebuilt from what events_raw keeps (a materialized view only
 * ever adds, so it cannot be cut back row by row). Rows events_raw's TTL already dropped are no
 * longer counted there after this.
 */
export async function cutSinkTables(store: AnalyticsStore, tables: readonly string[], cuts: CutOffsets, fromMs: number): Promise<RebuildResult> {
  const db = store.database;
  const before: Record<string, number> = {};
  const after: Record<string, number> = {};
  const conditions: string[] = [];
  for (const [topic, partitions] of cuts) {
    for (const [partition, offset] of partitions) {
      conditions.push(`(topic = '${topic.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}' AND partition = ${Number(partition)} AND offset >= ${Number(offset)})`);
    }
  }
  for (const table of tables.map((t) => assertIdentifier(t, 'table'))) {
    if (!(await exists(store, table))) continue;
    before[table] = await count(store, table);
    // Window rows are cut by window, not by offset: the aggregates topic is written in emit order,
    // not time order, and every window ending after the time is computed again (from the time on).
    const where =
      table === WINDOWS_TABLE ? `window_end > fromUnixTimestamp64Milli(toInt64(${Math.floor(fromMs)}), 'UTC')` : conditions.length > 0 ? conditions.join(' OR ') : undefined;
    // mutations_sync = 1: the statement returns once the rows are gone, so the counts below (and the view's rebuild) see it.
    if (where) await store.exec(`ALTER TABLE ${db}.${table} DELETE WHERE ${where} SETTINGS mutations_sync = 1`);
    after[table] = await count(store, table);
  }
  if (await exists(store, MV_TARGET)) {
    before[MV_TARGET] = await count(store, MV_TARGET);
    await store.exec(`TRUNCATE TABLE ${db}.${MV_TARGET}`);
    // The view's own SELECT (sink/SchemaMigrations.ts, migration 4) over the rows that stay.
    await store.exec(`INSERT INTO ${db}.${MV_TARGET} SELECT event_name, channel, toStartOfHour(toDateTime(ts, 'UTC')) AS hour, toUInt64(count()) AS total_events, uniqExactState(user_id) AS unique_users FROM ${db}.events_raw GROUP BY event_name, channel, hour`);
    after[MV_TARGET] = await count(store, MV_TARGET);
  }
  if (await exists(store, 'sink_batches')) await store.exec(`TRUNCATE TABLE ${db}.sink_batches`);
  return { before, after };
}

import type { AnalyticsStore } from './AnalyticsStore.js';
import { DEDUP_WINDOW, type SchemaOptions, eventsTtlClause, migrations } from './SchemaMigrations.js';

export interface MigrationResult {
  applied: number[];
  alreadyApplied: number[];
}

/**
 * Applies the migrations not yet recorded in schema_migrations, in version order, and records
 * each one after all its statements succeeded. Statements are idempotent, so two instances
 * starting together against one server, or a start that died mid-migration, end the same.
 */
export async function migrate(store: AnalyticsStore, options: Omit<SchemaOptions, 'database'>): Promise<MigrationResult> {
  const db = store.database;
  await store.exec(`CREATE DATABASE IF NOT EXISTS ${db}`);
  await store.exec(`CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (
  version UInt32,
  name String,
  applied_at DateTime64(3, 'UTC')
) ENGINE = MergeTree
ORDER BY version
SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`);
  const done = new Set(
    (await store.query<{ version: number }>(`SELECT DISTINCT version FROM ${db}.schema_migrations`)).map((row) => Number(row.version)),
  );
  const result: MigrationResult = { applied: [], alreadyApplied: [] };
  for (const migration of migrations({ database: db, ...options })) {
    if (done.has(migration.version)) {
      result.alreadyApplied.push(migration.version);
      continue;
    }
    for (const statement of migration.statements) await store.exec(statement);
    await store.exec(`INSERT INTO ${db}.schema_migrations SELECT {version:UInt32}, {name:String}, now64(3)`, {
      version: migration.version,
      name: migration.name,
    });
    result.applied.push(migration.version);
  }
  await reconcileEventsTtl(store, options.eventsTtlDays);
  return result;
}

/**
 * The TTL of events_raw follows configuration on every start, not only when the table is made.
 * materialize_ttl_after_modify = 0: changing retention must not rewrite every part at start;
 * old parts follow the new TTL as merges touch them.
 */
async function reconcileEventsTtl(store: AnalyticsStore, ttlDays: number): Promise<void> {
  const [table] = await store.query<{ create_table_query: string }>(
    `SELECT create_table_query FROM system.tables WHERE database = {db:String} AND name = 'events_raw'`,
    { db: store.database },
  );
  if (!table) return;
  const current = /TTL toDateTime\(ts\) \+ (?:INTERVAL (\d+) DAY|toIntervalDay\((\d+)\))/.exec(table.create_table_query);
  const currentDays = current ? Number(current[1] ?? current[2]) : 0;
  if (currentDays === Math.floor(ttlDays)) return;
  const target = `${store.database}.events_raw`;
  if (ttlDays > 0) await store.exec(`ALTER TABLE ${target} MODIFY ${eventsTtlClause(ttlDays)} SETTINGS materialize_ttl_after_modify = 0`);
  else await store.exec(`ALTER TABLE ${target} REMOVE TTL`);
}

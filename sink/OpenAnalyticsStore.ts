import path from 'node:path';
import { type Env, ConfigError, readInteger, readOptionalString, readString, readDurationMs, readMemoryPlan } from '../config/index.js';
import { isPlainIdentifier } from '../config/PlainIdentifier.js';
import type { AnalyticsStore } from './AnalyticsStore.js';

// Each store's module is loaded when a store of its kind opens: a process on chDB never loads
// @clickhouse/client (and its HTTP agent), one on a server never loads chdb's bindings.

export type AnalyticsStoreConfig =
  | {
      kind: 'chdb';
      path: string;
      database: string;
      maxRowsPerInsert: number;
      /** max_memory_usage (one query or insert), bytes; 0 = the engine's default. */
      maxMemoryUsageBytes: number;
      /** max_server_memory_usage (the engine's tracked total), bytes; 0 = the engine's default. */
      maxServerMemoryUsageBytes: number;
    }
  | {
      kind: 'server';
      url: string;
      username: string;
      password: string;
      database: string;
      idleSocketTtlMs: number;
      maxRowsPerInsert: number;
    };

/**
 * Which store the environment asks for. A ClickHouse server when CLICKHOUSE_URL or
 * CLICKHOUSE_HOST is set (seed 004's variables), chDB under <dataDir>/chdb otherwise.
 *
 * Seed 004 spoke the native protocol (CLICKHOUSE_PORT 9000); @clickhouse/client speaks HTTP.
 * A native port from an old seed 004 environment is translated to the HTTP port of the same
 * server (9000 → 8123, 9440 → 8443) and `warnings` says so.
 */
export function analyticsStoreConfigFromEnv(env: Env, dataDir: string): { config: AnalyticsStoreConfig; warnings: string[] } {
  const warnings: string[] = [];
  const database = readString(env, 'CLICKHOUSE_DATABASE', 'events_db');
  if (!isPlainIdentifier(database)) throw new ConfigError(`CLICKHOUSE_DATABASE="${database}" is not a plain identifier`);
  const maxRowsPerInsert = readInteger(env, 'CLICKHOUSE_MAX_ROWS_PER_INSERT', 10_000, 1, 1_000_000);
  const url = readOptionalString(env, 'CLICKHOUSE_URL');
  const host = readOptionalString(env, 'CLICKHOUSE_HOST');
  if (!url && !host) {
    // chDB's share of the memory plan (MEMORY_LIMIT_MB), unless set on their own.
    const plan = readMemoryPlan(env).chdb;
    return {
      config: {
        kind: 'chdb',
        path: path.resolve(readString(env, 'CHDB_PATH', path.join(dataDir, 'chdb'))),
        database,
        maxRowsPerInsert,
        maxMemoryUsageBytes: readInteger(env, 'CHDB_MAX_MEMORY_USAGE', plan.maxMemoryUsageBytes, 0),
        maxServerMemoryUsageBytes: readInteger(env, 'CHDB_MAX_SERVER_MEMORY_USAGE', plan.maxServerMemoryUsageBytes, 0),
      },
      warnings,
    };
  }
  let resolvedUrl: string;
  if (url) {
    try {
      new URL(url);
    } catch {
      throw new ConfigError(`CLICKHOUSE_URL="${url}" is not a URL (e.g. http://localhost:8123)`);
    }
    resolvedUrl = url;
  } else {
    let port = readInteger(env, 'CLICKHOUSE_PORT', 8123, 1, 65535);
    const secure = port === 8443 || port === 9440;
    if (port === 9000 || port === 9440) {
      const httpPort = port === 9000 ? 8123 : 8443;
      warnings.push(`CLICKHOUSE_PORT=${port} is the native protocol port; using the HTTP interface on ${httpPort}`);
      port = httpPort;
    }
    resolvedUrl = `${secure ? 'https' : 'http'}://${host}:${port}`;
  }
  return {
    config: {
      kind: 'server',
      url: resolvedUrl,
      username: readString(env, 'CLICKHOUSE_USERNAME', 'default'),
      password: readOptionalString(env, 'CLICKHOUSE_PASSWORD') ?? '',
      database,
      idleSocketTtlMs: readDurationMs(env, 'CLICKHOUSE_IDLE_SOCKET_TTL', 2_500),
      maxRowsPerInsert,
    },
    warnings,
  };
}

export async function openAnalyticsStore(config: AnalyticsStoreConfig): Promise<AnalyticsStore> {
  if (config.kind === 'chdb') return (await import('./ChdbStore.js')).ChdbStore.open(config);
  return (await import('./ClickHouseServerStore.js')).ClickHouseServerStore.open(config);
}

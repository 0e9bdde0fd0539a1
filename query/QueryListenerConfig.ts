import { isPlainIdentifier } from '../config/PlainIdentifier.js';
import { ConfigError, readDurationMs, readInteger, readOptionalString, readString, type Env } from '../config/index.js';
import type { QueryLimits } from './QuerySettings.js';

export interface QueryListenerConfig {
  host: string;
  /** The store's database (CLICKHOUSE_DATABASE, default events_db): where unqualified names resolve. */
  database: string;
  port: number;
  /** name → password; a user with '' has no password (loopback binds only). */
  users: Map<string, string>;
  limits: QueryLimits;
  /** Largest query text accepted (body plus ?query=), bytes. */
  maxQueryBytes: number;
  /** Reads running or waiting for the engine at once; more get Code 202 (TOO_MANY_SIMULTANEOUS_QUERIES). */
  maxConcurrentQueries: number;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** CLICKHOUSE_HTTP_USERS="alice:secret,grafana:other"; unset → the user `default` without a password. */
export function parseUsers(text: string | undefined): Map<string, string> {
  const users = new Map<string, string>();
  if (text === undefined) {
    users.set('default', '');
    return users;
  }
  for (const entry of text.split(',').map((item) => item.trim()).filter((item) => item.length > 0)) {
    const colon = entry.indexOf(':');
    const name = colon < 0 ? entry : entry.slice(0, colon);
    const password = colon < 0 ? '' : entry.slice(colon + 1);
    if (!/^[A-Za-z0-9_.@-]+$/.test(name)) throw new ConfigError(`CLICKHOUSE_HTTP_USERS: user name "${name}" may use letters, digits and _ . @ - only`);
    if (users.has(name)) throw new ConfigError(`CLICKHOUSE_HTTP_USERS: user "${name}" is listed twice`);
    users.set(name, password);
  }
  if (users.size === 0) throw new ConfigError('CLICKHOUSE_HTTP_USERS is set but names no user (name:password,...)');
  return users;
}

/**
 * The read-only ClickHouse HTTP interface over the embedded store, or undefined when it does not
 * run: CLICKHOUSE_HTTP_PORT=off, a process without the sink role, or a ClickHouse server as the
 * store (CLICKHOUSE_URL / CLICKHOUSE_HOST: analysts then query that server directly).
 */
export function readQueryListenerConfig(env: Env, roles: readonly string[]): QueryListenerConfig | undefined {
  const portText = readString(env, 'CLICKHOUSE_HTTP_PORT', '8123');
  if (/^(off|false|no|none|disabled)$/i.test(portText)) return undefined;
  if (!roles.includes('sink')) return undefined;
  if (readOptionalString(env, 'CLICKHOUSE_URL') || readOptionalString(env, 'CLICKHOUSE_HOST')) return undefined;
  // As for ADMIN_PORT: an ephemeral public port (tests, benches) gets an ephemeral one here too,
  // so two processes on one machine do not both try 8123.
  const ephemeralService = readOptionalString(env, 'PORT') === '0';
  const port = readInteger(env, 'CLICKHOUSE_HTTP_PORT', ephemeralService ? 0 : 8123, 0, 65535);
  const host = readString(env, 'CLICKHOUSE_HTTP_HOST', '127.0.0.1');
  const users = parseUsers(readOptionalString(env, 'CLICKHOUSE_HTTP_USERS'));
  const withoutPassword = [...users].filter(([, password]) => password === '').map(([name]) => name);
  if (!isLoopback(host) && withoutPassword.length > 0) {
    throw new ConfigError(
      `CLICKHOUSE_HTTP_HOST=${host} is not a loopback address and user(s) ${withoutPassword.join(', ')} have no password: ` +
        `set CLICKHOUSE_HTTP_USERS=name:password,... or bind 127.0.0.1 (or CLICKHOUSE_HTTP_PORT=off)`,
    );
  }
  const executionMs = readDurationMs(env, 'CLICKHOUSE_HTTP_MAX_EXECUTION_TIME', 60_000);
  if (executionMs < 1000) throw new ConfigError(`CLICKHOUSE_HTTP_MAX_EXECUTION_TIME must be at least 1s (ClickHouse counts whole seconds)`);
  const database = readString(env, 'CLICKHOUSE_DATABASE', 'events_db');
  if (!isPlainIdentifier(database)) throw new ConfigError(`CLICKHOUSE_DATABASE="${database}" is not a plain identifier`);
  return {
    host,
    database,
    port,
    users,
    limits: {
      maxExecutionTimeSeconds: Math.floor(executionMs / 1000),
      maxResultRows: readInteger(env, 'CLICKHOUSE_HTTP_MAX_RESULT_ROWS', 1_000_000, 1),
      maxResultBytes: readInteger(env, 'CLICKHOUSE_HTTP_MAX_RESULT_BYTES', 100_000_000, 1),
      maxMemoryUsage: readInteger(env, 'CLICKHOUSE_HTTP_MAX_MEMORY_USAGE', 1_000_000_000, 1),
    },
    maxQueryBytes: readInteger(env, 'CLICKHOUSE_HTTP_MAX_QUERY_SIZE', 1_048_576, 1024),
    maxConcurrentQueries: readInteger(env, 'CLICKHOUSE_HTTP_MAX_CONCURRENT_QUERIES', 8, 1, 1000),
  };
}

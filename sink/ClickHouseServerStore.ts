import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { type AnalyticsStore, type QueryParams, type Row, type InsertRow, type InsertOptions, assertIdentifier, chunkRows, insertSettings, answersSelectOne } from './AnalyticsStore.js';

export interface ClickHouseServerStoreOptions {
  /** http(s)://host:8123 of the server's HTTP interface. */
  url: string;
  username?: string;
  password?: string;
  database?: string;
  requestTimeoutMs?: number;
  /**
   * Idle keep-alive sockets are dropped after this long. It must stay below the server's
   * keep_alive_timeout (3 s before 23.11, 10 s after): a socket the server closed while idle
   * fails the next request with ECONNRESET.
   */
  idleSocketTtlMs?: number;
  maxRowsPerInsert?: number;
  /** Injected client (tests run this class over chdb/connection); otherwise built from the url. */
  client?: ClickHouseClient;
}

/**
 * AnalyticsStore over a ClickHouse server through @clickhouse/client. Every response is
 * consumed (json()) or closed (command() and insert() drain theirs): a result left unread
 * holds its socket, and the pool runs dry.
 */
export class ClickHouseServerStore implements AnalyticsStore {
  readonly kind = 'server' as const;
  readonly database: string;
  private readonly client: ClickHouseClient;
  readonly maxRowsPerInsert: number;
  private closed = false;

  private constructor(options: ClickHouseServerStoreOptions) {
    this.database = assertIdentifier(options.database ?? 'events_db', 'database');
    this.maxRowsPerInsert = options.maxRowsPerInsert ?? 10_000;
    this.client =
      options.client ??
      createClient({
        url: options.url,
        username: options.username ?? 'default',
        password: options.password ?? '',
        // No default database: the database may not exist yet, and every statement names it.
        request_timeout: options.requestTimeoutMs ?? 30_000,
        keep_alive: { enabled: true, idle_socket_ttl: options.idleSocketTtlMs ?? 2_500 },
        clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
      });
  }

  /** A store without a round trip (ping() tells whether the server answers). */
  static create(options: ClickHouseServerStoreOptions): ClickHouseServerStore {
    return new ClickHouseServerStore(options);
  }

  /** A store whose database exists: fails when the server does not answer. */
  static async open(options: ClickHouseServerStoreOptions): Promise<ClickHouseServerStore> {
    const store = new ClickHouseServerStore(options);
    try {
      const [row] = await store.query<{ v: string }>('SELECT version() AS v');
      assertSupportedVersion(row?.v ?? '');
      await store.exec(`CREATE DATABASE IF NOT EXISTS ${store.database}`);
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  async exec(sql: string, params?: QueryParams): Promise<void> {
    this.assertOpen();
    await this.client.command({ query: sql, query_params: params });
  }

  async query<T = Row>(sql: string, params?: QueryParams): Promise<T[]> {
    this.assertOpen();
    const result = await this.client.query({
      query: sql,
      query_params: params,
      format: 'JSONEachRow',
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
    return result.json<T>();
  }

  /** Rows come as objects (no encodeRow here: the client serializes them); a line is parsed back. */
  async insert(table: string, rows: readonly InsertRow[], options: InsertOptions): Promise<void> {
    this.assertOpen();
    assertIdentifier(table, 'table');
    if (rows.length === 0) return;
    for (const chunk of chunkRows(rows, options.dedupToken, this.maxRowsPerInsert)) {
      await this.client.insert({
        table: `${this.database}.${table}`,
        values: chunk.rows.map((row) => (typeof row === 'string' ? (JSON.parse(row) as Row) : row)),
        format: 'JSONEachRow',
        clickhouse_settings: { ...insertSettings(chunk.token), input_format_skip_unknown_fields: 1 },
      });
    }
  }

  async ping(): Promise<boolean> {
    return !this.closed && answersSelectOne(this);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('ClickHouseServerStore is closed');
  }
}

/**
 * The schema needs insert_deduplication_token (22.2), non_replicated_deduplication_window,
 * DateTime64 and Bool; 22.3 is the first LTS with all of them. Refusing an older server at start
 * beats failing on the first CREATE TABLE with "Unknown data type family: DateTime64"
 * (what Debian's clickhouse-server 18.16 answers).
 */
export const MIN_SERVER_VERSION = [22, 3] as const;

export function assertSupportedVersion(version: string): void {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < MIN_SERVER_VERSION[0] || (major === MIN_SERVER_VERSION[0] && minor < MIN_SERVER_VERSION[1])) {
    throw new Error(`ClickHouse server ${version || '(unknown version)'} is too old: the analytics schema needs ${MIN_SERVER_VERSION.join('.')} or newer`);
  }
}

import type { Session } from 'chdb';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AnalyticsStore } from '../sink/AnalyticsStore.js';
import { ChdbStore } from '../sink/ChdbStore.js';
import { ChdbReader } from './ChdbReader.js';
import { buildClickHouseHttpServer } from './ClickHouseHttpServer.js';
import type { QueryListenerConfig } from './QueryListenerConfig.js';

export interface QueryListenerOptions {
  config: QueryListenerConfig;
  /** The sink's store once it runs (the reads share its chDB engine: one per process). */
  store: () => AnalyticsStore | undefined;
  registry: Registry;
  logger: Logger;
}

export interface QueryListener {
  server: FastifyInstance;
  /** e.g. http://127.0.0.1:8123 */
  address: string;
  reader: ChdbReader;
  close(): Promise<void>;
}

/**
 * Starts the read-only ClickHouse HTTP interface on its own listener (CLICKHOUSE_HTTP_HOST:PORT);
 * undefined, with a warning, when the port is taken.
 *
 * Unqualified table names resolve in the store's database (events_db), as they would for a
 * server user whose default database it is: the shared session's current database is switched
 * once with USE. The sink names every table with its database, so this changes nothing for it.
 */
export async function startQueryListener(options: QueryListenerOptions): Promise<QueryListener | undefined> {
  const { config, logger } = options;
  let engine = { version: 'unknown', timezone: 'UTC' };
  let database = 'events_db';
  let prepared: Promise<Session> | undefined;
  const session = async (): Promise<Session | undefined> => {
    const store = options.store();
    if (!(store instanceof ChdbStore)) return undefined;
    database = store.database;
    prepared ??= (async () => {
      await store.session.queryAsync(`USE ${store.database}`);
      const [version, timezone] = (await store.session.queryAsync('SELECT version(), timezone()', { format: 'TabSeparated' })).text().trim().split('\t');
      engine = { version: version ?? 'unknown', timezone: timezone ?? 'UTC' };
      return store.session;
    })();
    prepared.catch(() => (prepared = undefined));
    return prepared;
  };
  await session().catch((error: unknown) => logger.warn({ err: error }, 'query interface: engine not ready yet'));
  const reader = new ChdbReader(session, config.maxConcurrentQueries);
  const server = buildClickHouseHttpServer({
    config,
    reader,
    get database() {
      return database;
    },
    engine: () => engine,
    registry: options.registry,
    logger: logger.child({ component: 'query-http' }),
  });
  let address: string;
  try {
    address = await server.listen({ host: config.host, port: config.port });
  } catch (error) {
    // 8123 is also a local ClickHouse server's port: a taken port must not stop the ingestion.
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    await server.close();
    logger.warn(
      `CLICKHOUSE_HTTP_PORT ${config.port} on ${config.host} is in use (a ClickHouse server?): the embedded ClickHouse HTTP interface is off; set CLICKHOUSE_HTTP_PORT to a free port, or off`,
    );
    return undefined;
  }
  logger.info({ address, users: [...config.users.keys()] }, 'ClickHouse HTTP interface (read-only) listening');
  return { server, address, reader, close: () => server.close() };
}

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
  /** The sink's store once it runs: the reads use its engine (its data directory), on their own connection. */
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
 * undefined, with a warning, when the port is taken. Close it before the store (its connection
 * must be gone before the engine's last one closes).
 */
export async function startQueryListener(options: QueryListenerOptions): Promise<QueryListener | undefined> {
  const { config, logger } = options;
  const reader = new ChdbReader(
    () => {
      const store = options.store();
      return store instanceof ChdbStore ? store.dataPath : undefined;
    },
    config.database,
    config.maxConcurrentQueries,
  );
  let engine = { version: 'unknown', timezone: 'UTC' };
  const learnEngine = async () => {
    const info = await reader.engineInfo();
    if (info) engine = info;
    return info !== undefined;
  };
  let engineKnown = await learnEngine();
  const server = buildClickHouseHttpServer({
    config,
    reader,
    database: config.database,
    engine: () => {
      if (!engineKnown) void learnEngine().then((known) => (engineKnown = known));
      return engine;
    },
    registry: options.registry,
    logger: logger.child({ component: 'query-http' }),
  });
  const close = async () => {
    await server.close();
    await reader.close();
  };
  let address: string;
  try {
    address = await server.listen({ host: config.host, port: config.port });
  } catch (error) {
    // 8123 is also a local ClickHouse server's port: a taken port must not stop the ingestion.
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    await close();
    logger.warn(
      `CLICKHOUSE_HTTP_PORT ${config.port} on ${config.host} is in use (a ClickHouse server?): the embedded ClickHouse HTTP interface is off; set CLICKHOUSE_HTTP_PORT to a free port, or off`,
    );
    return undefined;
  }
  logger.info({ address, users: [...config.users.keys()] }, 'ClickHouse HTTP interface (read-only) listening');
  return { server, address, reader, close };
}

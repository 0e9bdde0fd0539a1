import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AnalyticsStore } from '../sink/AnalyticsStore.js';
import { ChdbStore } from '../sink/ChdbStore.js';
import { ChdbReader } from './ChdbReader.js';
import { buildClickHouseHttpServer } from './ClickHouseHttpServer.js';
import type { QueryListenerConfig } from './QueryListenerConfig.js';
import { createReadHandler, type ReadHandlerOptions } from './ReadHandler.js';

export interface QueryLayerOptions {
  config: QueryListenerConfig;
  /** The sink's store once it runs: the reads use its engine (its data directory), on their own connection. */
  store: () => AnalyticsStore | undefined;
  registry: Registry;
  logger: Logger;
}

export interface QueryLayer {
  reader: ChdbReader;
  /**
   * GET /dashboard/query?query=...&param_x=...: the same reads for /dashboard's analytics panels,
   * registered on the admin listener's scope (behind ADMIN_TOKEN, so no CLICKHOUSE_HTTP_USERS).
   */
  registerDashboardRoute(scope: FastifyInstance): Promise<void>;
  /** Starts the ClickHouse listener (CLICKHOUSE_HTTP_HOST:PORT): its address, or undefined when the port is taken. */
  listen(): Promise<string | undefined>;
  /** Closes the listener, then the reads' connection; before the store closes. */
  close(): Promise<void>;
}

/**
 * The query layer over the embedded store: one reader (its own chDB connection, ChdbReader),
 * served on the ClickHouse HTTP listener and on the dashboard's route.
 */
export function createQueryLayer(options: QueryLayerOptions): QueryLayer {
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
  let learning: Promise<void> | undefined;
  const engineInfo = () => {
    // Learned from the engine on first use (the store may open after the listener in Kafka mode).
    learning ??= reader.engineInfo().then((info) => {
      if (info) engine = info;
      else learning = undefined;
    });
    return engine;
  };
  const handlerOptions: Omit<ReadHandlerOptions, 'authenticateUsers'> = {
    config,
    reader,
    database: config.database,
    engine: engineInfo,
    registry: options.registry,
    logger: logger.child({ component: 'query-http' }),
  };
  let server: FastifyInstance | undefined;
  return {
    reader,
    async registerDashboardRoute(scope) {
      const { handle } = createReadHandler({ ...handlerOptions, authenticateUsers: false });
      scope.get('/dashboard/query', handle);
    },
    async listen() {
      engineInfo();
      await learning;
      server = buildClickHouseHttpServer(handlerOptions);
      try {
        const address = await server.listen({ host: config.host, port: config.port });
        logger.info({ address, users: [...config.users.keys()] }, 'ClickHouse HTTP interface (read-only) listening');
        return address;
      } catch (error) {
        // 8123 is also a local ClickHouse server's port: a taken port must not stop the ingestion.
        await server.close();
        server = undefined;
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
        logger.warn(
          `CLICKHOUSE_HTTP_PORT ${config.port} on ${config.host} is in use (a ClickHouse server?): the embedded ClickHouse HTTP interface is off; set CLICKHOUSE_HTTP_PORT to a free port, or off`,
        );
        return undefined;
      }
    },
    async close() {
      await server?.close();
      await reader.close();
    },
  };
}

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { DEFAULT_LANDING_TOPIC, type Env } from '../config/index.js';
import type { Log } from '../log/Log.js';
import type { AnalyticsStore } from './AnalyticsStore.js';
import { ClickHouseSink, type SinkRoute } from './ClickHouseSink.js';
import { createAnalyticsHandler, type AnalyticsHandler } from './EventMetricsQuery.js';
import { migrate } from './Migrator.js';
import { analyticsStoreConfigFromEnv, openAnalyticsStore } from './OpenAnalyticsStore.js';
import { defaultSinkRoutes, sinkSettingsFromEnv, type SinkTopics } from './SinkConfig.js';

export interface AnalyticsOptions {
  env: Env;
  /** The data directory (chDB lives in <dataDir>/chdb unless CHDB_PATH says otherwise). */
  dataDir: string;
  log: Log;
  registry: Registry;
  logger: Logger;
  /** Topics for the standard routes, or `routes` for a custom set. */
  topics?: SinkTopics;
  routes?: SinkRoute[];
  /**
   * Tables beyond the schema's (pipeline extensions' ClickHouse tables): each gives idempotent
   * CREATE statements for the database, run after the migrations on every start.
   */
  tables?: Array<(database: string) => string[]>;
  /**
   * Where the sink dead-letters records it cannot write (a row ClickHouse refuses, a value that
   * is not JSON, a mapper that throws): the pipeline's DLQ. Default: DLQ_TOPIC, else events-dlq.
   */
  dlqTopic?: string;
}

export interface AnalyticsRuntime {
  store: AnalyticsStore;
  sink: ClickHouseSink;
  /** For the ingress's GET /metrics when event_name is present (buildIngress({ analytics })). */
  analytics: AnalyticsHandler;
  /** For GET /ready (buildIngress({ readinessChecks: [readiness] })). */
  readiness: { name: string; check(): Promise<boolean> };
  stop(): Promise<void>;
}

/**
 * Opens the analytics store the environment names, applies the migrations, starts the sink.
 * A store that cannot be opened or migrated fails the start (the schema must exist before rows
 * can go anywhere); a store that goes away later only makes the sink wait and /ready say so.
 */
export async function startAnalytics(options: AnalyticsOptions): Promise<AnalyticsRuntime> {
  const { config, warnings } = analyticsStoreConfigFromEnv(options.env, options.dataDir);
  for (const warning of warnings) options.logger.warn(warning);
  const settings = sinkSettingsFromEnv(options.env);
  const routes = options.routes ?? defaultSinkRoutes(options.topics ?? { rawEvents: DEFAULT_LANDING_TOPIC });
  const store = await openAnalyticsStore(config);
  try {
    const migrated = await migrate(store, { eventsTtlDays: settings.eventsTtlDays });
    for (const create of options.tables ?? []) for (const statement of create(store.database)) await store.exec(statement);
    options.logger.info({ store: config.kind, database: store.database, applied: migrated.applied, extensionTables: options.tables?.length ?? 0 }, 'analytics schema ready');
  } catch (error) {
    await store.close();
    throw error;
  }
  const sink = new ClickHouseSink({
    log: options.log,
    store,
    routes,
    groupId: settings.groupId,
    maxBatchRecords: settings.maxBatchRecords,
    maxBatchBytes: settings.maxBatchBytes,
    lingerMs: settings.lingerMs,
    deadLetterTopic: options.dlqTopic ?? settings.dlqTopic,
    registry: options.registry,
    logger: options.logger,
  });
  try {
    await sink.start();
  } catch (error) {
    await store.close();
    throw error;
  }
  return {
    store,
    sink,
    analytics: createAnalyticsHandler(store),
    readiness: { name: 'clickhouse', check: async () => sink.isReady() && (await store.ping()) },
    async stop() {
      await sink.stop();
      await store.close();
    },
  };
}

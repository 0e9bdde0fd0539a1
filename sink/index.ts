export { type AnalyticsStore, type Row, type InsertOptions, type QueryParams } from './AnalyticsStore.js';
export { ChdbStore, type ChdbStoreOptions } from './ChdbStore.js';
// Types only: importing the sink must not load @clickhouse/client in a process on chDB
// (openAnalyticsStore loads the store module it opens). Import ClickHouseServerStore from its file.
export type { ClickHouseServerStore, ClickHouseServerStoreOptions } from './ClickHouseServerStore.js';
export { analyticsStoreConfigFromEnv, openAnalyticsStore, type AnalyticsStoreConfig } from './OpenAnalyticsStore.js';
export { migrate, type MigrationResult } from './Migrator.js';
export { migrations, DEDUP_WINDOW, type Migration } from './SchemaMigrations.js';
export { ClickHouseSink, type ClickHouseSinkOptions, type SinkRoute, type SinkBatchInfo } from './ClickHouseSink.js';
export * from './RowMappers.js';
export { defaultSinkRoutes, sinkSettingsFromEnv, type SinkTopics, type SinkSettings } from './SinkConfig.js';
export {
  queryEventMetrics,
  parseEventMetricsQuery,
  createAnalyticsHandler,
  BadRequestError,
  type AnalyticsHandler,
  type EventMetricsRequest,
  type EventMetricsResponse,
} from './EventMetricsQuery.js';
export { startAnalytics, type AnalyticsOptions, type AnalyticsRuntime } from './StartAnalytics.js';

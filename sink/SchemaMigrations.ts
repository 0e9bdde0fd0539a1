/**
 * The analytics schema as versioned migrations. Each migration is a list of statements, each
 * idempotent (IF NOT EXISTS), so a start that died half-way through a migration simply runs it
 * again. The text is the same for chDB and for a server; only the database name and the raw
 * events TTL are filled in from configuration.
 *
 * Every table, and every materialized-view target, keeps a deduplication window: the hashes of
 * its last DEDUP_WINDOW inserted blocks (non_replicated_deduplication_window; non-replicated
 * MergeTree keeps none by default). A replayed block whose insert_deduplication_token is in the
 * window is dropped. The window must outlast a replay: a sink replays at most the one
 * uncommitted batch per input partition and table, so 10k blocks leaves a wide margin.
 */
export const DEDUP_WINDOW = 10_000;

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export interface SchemaOptions {
  database: string;
  /** Days raw events are kept (TTL on events_raw); 0 keeps them forever. */
  eventsTtlDays: number;
}

const dedup = `non_replicated_deduplication_window = ${DEDUP_WINDOW}`;

export function eventsTtlClause(ttlDays: number): string {
  return ttlDays > 0 ? `TTL toDateTime(ts) + INTERVAL ${Math.floor(ttlDays)} DAY` : '';
}

export function migrations({ database: db, eventsTtlDays }: SchemaOptions): Migration[] {
  return [
    {
      version: 1,
      name: 'raw events',
      statements: [
        // Every event of the landing topic, as the ingress enveloped it. The sort key serves
        // seed 004's filter (event_name) and group (channel, hour).
        `CREATE TABLE IF NOT EXISTS ${db}.events_raw (
  event_id String,
  event_type LowCardinality(String),
  event_name LowCardinality(String),
  channel LowCardinality(String),
  campaign_id String,
  user_id String,
  ts DateTime64(3, 'UTC'),
  received_at DateTime64(3, 'UTC'),
  source LowCardinality(String),
  tags Array(String),
  metadata String,
  payload String,
  topic LowCardinality(String),
  partition UInt32,
  offset UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (event_name, channel, ts)
${eventsTtlClause(eventsTtlDays)}
SETTINGS ${dedup}`,
      ],
    },
    {
      version: 2,
      name: 'typed tables: attempts, sessions, placements (seed 000)',
      statements: [
        `CREATE TABLE IF NOT EXISTS ${db}.attempts (
  client_attempt_id String,
  user_id String,
  item_id String,
  session_id String,
  selected String,
  correct Bool,
  quality Int32,
  confidence Int32,
  time_taken_ms UInt32,
  hints_used UInt32,
  device_type LowCardinality(String),
  app_version LowCardinality(String),
  ts DateTime64(3, 'UTC'),
  received_at DateTime64(3, 'UTC'),
  topic LowCardinality(String),
  partition UInt32,
  offset UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (user_id, ts)
SETTINGS ${dedup}`,
        `CREATE TABLE IF NOT EXISTS ${db}.sessions (
  session_id String,
  user_id String,
  start_time DateTime64(3, 'UTC'),
  end_time DateTime64(3, 'UTC'),
  items_attempted UInt32,
  correct_count UInt32,
  total_time_ms UInt64,
  session_type LowCardinality(String),
  topics_practiced Array(String),
  average_difficulty Float64,
  received_at DateTime64(3, 'UTC'),
  topic LowCardinality(String),
  partition UInt32,
  offset UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMM(start_time)
ORDER BY (user_id, start_time)
SETTINGS ${dedup}`,
        `CREATE TABLE IF NOT EXISTS ${db}.placements (
  placement_id String,
  user_id String,
  items_administered UInt32,
  overall_accuracy Float64,
  was_completed Bool,
  end_reason LowCardinality(String),
  results String,
  received_at DateTime64(3, 'UTC'),
  topic LowCardinality(String),
  partition UInt32,
  offset UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (user_id, received_at)
SETTINGS ${dedup}`,
      ],
    },
    {
      version: 3,
      name: 'windowed aggregates',
      statements: [
        // The topology emits a window's result each time it changes (emit on update) or once
        // (on close). The latest emission wins: ReplacingMergeTree on the source offset, which
        // grows with every emission of a key since a key always lives on one partition.
        // Read with FINAL (or argMax by offset) for the current value.
        `CREATE TABLE IF NOT EXISTS ${db}.window_aggregates (
  aggregator LowCardinality(String),
  key String,
  window_start DateTime64(3, 'UTC'),
  window_end DateTime64(3, 'UTC'),
  count UInt64,
  sum Float64,
  min Float64,
  max Float64,
  fields String,
  emitted_at DateTime64(3, 'UTC'),
  topic LowCardinality(String),
  partition UInt32,
  offset UInt64
) ENGINE = ReplacingMergeTree(offset)
PARTITION BY toYYYYMM(window_start)
ORDER BY (aggregator, key, window_start, window_end)
SETTINGS ${dedup}`,
      ],
    },
    {
      version: 4,
      name: 'seed 004 event metrics: totals and unique users by event_name x channel x hour',
      statements: [
        // uniqExact keeps every distinct user_id of a (event_name, channel, hour) in its state:
        // error 0, and merging hours or channels gives the exact union. Memory grows with
        // distinct users per hour; uniq (at most 65,536 hashes, an estimate beyond) would bound
        // it if that ever matters (README).
        `CREATE TABLE IF NOT EXISTS ${db}.event_metrics_hourly (
  event_name LowCardinality(String),
  channel LowCardinality(String),
  hour DateTime('UTC'),
  total_events SimpleAggregateFunction(sum, UInt64),
  unique_users AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (event_name, channel, hour)
SETTINGS ${dedup}`,
        `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.event_metrics_hourly_mv TO ${db}.event_metrics_hourly AS
SELECT
  event_name,
  channel,
  toStartOfHour(toDateTime(ts, 'UTC')) AS hour,
  toUInt64(count()) AS total_events,
  uniqExactState(user_id) AS unique_users
FROM ${db}.events_raw
GROUP BY event_name, channel, hour`,
      ],
    },
    {
      version: 5,
      name: 'sink batch log',
      statements: [
        // The ClickHouseSink writes each batch's offset range here BEFORE inserting it, so a
        // restarted sink cuts the same batch again and its dedup token matches (ClickHouseSink.ts).
        `CREATE TABLE IF NOT EXISTS ${db}.sink_batches (
  sink String,
  topic String,
  partition UInt32,
  first_offset UInt64,
  last_offset UInt64,
  created_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree
ORDER BY (sink, topic, partition, first_offset)
TTL toDateTime(created_at) + INTERVAL 30 DAY
SETTINGS ${dedup}`,
      ],
    },
    {
      version: 6,
      name: 'sink rounds',
      statements: [
        // A flush round inserts the batches of several partitions as one block per table; each
        // member's cut names the whole round, so a replay combines the same batches (SinkRound.ts).
        // Cuts recorded before have '' and replay as rounds of one batch.
        `ALTER TABLE ${db}.sink_batches ADD COLUMN IF NOT EXISTS round String DEFAULT ''`,
      ],
    },
  ];
}

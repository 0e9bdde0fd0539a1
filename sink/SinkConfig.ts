import { type Env, readDurationMs, readInteger, readString, readMemoryPlan, readTopicNames } from '../config/index.js';
import type { SinkRoute } from './ClickHouseSink.js';
import {
  attemptMapper,
  byEventType,
  placementMapper,
  rawEventMapper,
  sessionMapper,
  windowAggregateMapper,
} from './RowMappers.js';

export interface SinkSettings {
  groupId: string;
  maxBatchRecords: number;
  /** Record bytes (keys + values) per batch and partition: the memory plan's sink share. */
  maxBatchBytes: number;
  lingerMs: number;
  eventsTtlDays: number;
  /** The pipeline's DLQ, where the sink dead-letters what it cannot write (config's TopicNames reader, as the ingress and the topology read it). */
  dlqTopic: string;
}

/**
 *   CLICKHOUSE_EVENTS_TTL_DAYS   days events_raw keeps rows (default 90; 0 = forever)
 *   SINK_GROUP_ID                consumer group and name of the sink (default clickhouse-sink)
 *   SINK_BATCH_MAX_ROWS          records per batch and partition (default 10000)
 *   SINK_BATCH_MAX_BYTES         record bytes per batch and partition (default: the memory plan's
 *                                sink share, MEMORY_LIMIT_MB; ~2 MB at 512): a batch is cut at
 *                                whichever bound comes first, and inserting it must fit in chDB's
 *                                max_memory_usage (CHDB_MAX_MEMORY_USAGE), ~28x its bytes
 *   SINK_BATCH_LINGER            longest wait before a partial batch is written (default 200ms:
 *                                the event-to-queryable p50 is about linger + insert time; under a
 *                                backlog batches fill to SINK_BATCH_MAX_ROWS before the linger anyway)
 *   DLQ_TOPIC                    the pipeline's DLQ (default events-dlq), shared with the ingress and
 *                                the topology: rows ClickHouse refuses go there too
 */
export function sinkSettingsFromEnv(env: Env): SinkSettings {
  return {
    groupId: readString(env, 'SINK_GROUP_ID', 'clickhouse-sink'),
    maxBatchRecords: readInteger(env, 'SINK_BATCH_MAX_ROWS', 10_000, 1, 1_000_000),
    maxBatchBytes: readInteger(env, 'SINK_BATCH_MAX_BYTES', readMemoryPlan(env).sinkBatchBytes, 1024),
    lingerMs: readDurationMs(env, 'SINK_BATCH_LINGER', 200),
    eventsTtlDays: readInteger(env, 'CLICKHOUSE_EVENTS_TTL_DAYS', 90, 0, 100_000),
    dlqTopic: readTopicNames(env).dlq,
  };
}

export interface SinkTopics {
  /** Events for events_raw (and so for seed 004's metrics): the landing topic or a deduplicated output. */
  rawEvents: string;
  /** Typed tables read these topics when given; otherwise the raw events topic, by event_type. */
  attempts?: string;
  sessions?: string;
  placements?: string;
  /** The topology's windowed aggregate rows (processor.aggregates). */
  aggregates?: string;
}

/** The standard table routes; a pipeline with other topics or tables passes its own SinkRoute[]. */
export function defaultSinkRoutes(topics: SinkTopics): SinkRoute[] {
  const typed = (topic: string | undefined, eventType: string, table: string, map: SinkRoute['map']): SinkRoute =>
    topic ? { topic, table, map } : { topic: topics.rawEvents, table, map: byEventType(eventType, map) };
  const routes: SinkRoute[] = [
    { topic: topics.rawEvents, table: 'events_raw', map: rawEventMapper },
    typed(topics.attempts, 'attempt', 'attempts', attemptMapper),
    typed(topics.sessions, 'session', 'sessions', sessionMapper),
    typed(topics.placements, 'placement', 'placements', placementMapper),
  ];
  if (topics.aggregates) routes.push({ topic: topics.aggregates, table: 'window_aggregates', map: windowAggregateMapper });
  return routes;
}

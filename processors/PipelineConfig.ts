import { ConfigError, readBoolean, readDurationMs, readEnum, readInteger, readList, readOptionalString, readString, readTopicNames, type Env, type TopicNames } from '../config/index.js';
import { DEFAULT_DEDUPE_TTLS, DEFAULT_MAX_REPLAYS } from './SeedDefaults.js';
import { DEFAULT_REFERENCE_TOPICS, type ReferenceTopics } from './ReferenceData.js';
import { readOutputTopics, readRouteTopics, type OutputTopics } from './OutputTopics.js';
import type { AggregateEmit } from './WindowedAggregations.js';

/** Everything the default pipeline needs to know; readPipelineConfig() fills it from the environment. */
export interface PipelineConfig {
  /** The ingress's landing topic (KAFKA_TOPIC, default events.raw). */
  landingTopic: string;
  /**
   * The landing topic's retention when the pipeline creates it (LANDING_RETENTION_MS,
   * LANDING_RETENTION_BYTES per partition): the history `streamline reprocess` and backfills can
   * replay. Unset: the log's defaults (embedded: kept until LOG_RETENTION_BYTES; Kafka: the
   * broker's log.retention.*). An existing topic keeps its own.
   */
  landingRetention: { retentionMs?: number; retentionBytes?: number };
  /** DLQ_TOPIC, default events-dlq (seed 001 names the variable and this default; seed 003's dlq.events is one setting away). */
  dlqTopic: string;
  outputTopics: OutputTopics;
  /** The only topics routing rules may target (ROUTE_TOPICS; default the output topics). */
  routeTopics: string[];
  /** DLQ_MAX_REPLAYS: a dead letter replayed this many times is quarantined instead (seed 001: 3). */
  dlqMaxReplays: number;
  referenceTopics: ReferenceTopics;
  /** Rows of every aggregator (AGGREGATES_TOPIC, default processor.aggregates). */
  aggregatesTopic: string;
  /**
   * Every event that passed dedupe, enrichment and the filters, once (CLEAN_EVENTS_TOPIC, default
   * events.clean): what the ClickHouse sink stores, so analytics count each event exactly once.
   */
  cleanEventsTopic: string;
  dedupe: {
    ttlMs: Record<string, number>;
    defaultTtlMs: number;
    purgeIntervalMs: number;
  };
  aggregation: {
    emit: AggregateEmit;
    emitIntervalMs: number;
    graceMs: number;
    /** AGGREGATION_PREAGGREGATE (default true): partials, not events, cross the repartition topics (docs/PREAGGREGATION.md). */
    preaggregate: boolean;
  };
  /** FILTER_RULES_FILE: JSON rule file; the five default rules when unset. */
  filterRulesFile?: string;
  /** Which routed topics are written as Protobuf (PROTOBUF_OUTPUT_TOPICS, PROTOBUF_OUTPUT_SCHEMA_ID). */
  outputFormats: OutputFormatConfig;
  /** How landing records are read (LANDING_PROTOBUF_SCHEMA_ID, LANDING_VALIDATE_ENVELOPES; docs/LANDING.md). */
  landing: LandingContractConfig;
}

export interface OutputFormatConfig {
  /** Routed topics written as Protobuf (PROTOBUF_OUTPUT_TOPICS); every other one is JSON. */
  protobufTopics: string[];
  /** PROTOBUF_OUTPUT_SCHEMA_ID: when set, Protobuf output is framed in the Confluent wire format with this id. */
  schemaId?: number;
}

/** Reads PROTOBUF_OUTPUT_TOPICS (each must be a route topic) and PROTOBUF_OUTPUT_SCHEMA_ID. */
export function readOutputFormats(env: Env, routeTopics: readonly string[]): OutputFormatConfig {
  const protobufTopics = readList(env, 'PROTOBUF_OUTPUT_TOPICS', []);
  const unknown = protobufTopics.filter((topic) => !routeTopics.includes(topic));
  if (unknown.length > 0) throw new ConfigError(`PROTOBUF_OUTPUT_TOPICS names ${unknown.join(', ')}, which routing rules cannot target; route topics (ROUTE_TOPICS): ${routeTopics.join(', ')}`);
  const rawId = readOptionalString(env, 'PROTOBUF_OUTPUT_SCHEMA_ID');
  if (rawId === undefined) return { protobufTopics };
  const schemaId = Number(rawId);
  if (!/^\d+$/.test(rawId) || schemaId > 0x7fffffff) throw new ConfigError(`PROTOBUF_OUTPUT_SCHEMA_ID must be a schema registry id (an integer from 0 to 2147483647), got "${rawId}"`);
  return { protobufTopics, schemaId };
}

export interface LandingContractConfig {
  /** LANDING_PROTOBUF_SCHEMA_ID: the schema id Confluent-framed records must carry; unset refuses them. */
  protobufSchemaId?: number;
  /**
   * LANDING_VALIDATE_ENVELOPES (default true): check ingress envelopes against the JSON Schemas
   * too, as bare and Protobuf events are, so an envelope another producer wrote is held to the
   * HTTP routes' contract (a validation costs ~0.1 µs of the ~130 µs an event costs the topology).
   * false trusts envelopes (the ingress checked them already).
   */
  validateEnvelopes: boolean;
}

/** LANDING_PROTOBUF_SCHEMA_ID and LANDING_VALIDATE_ENVELOPES: how the landing topic's records are read (processors/LandingContract.ts). */
export function readLandingContract(env: Env): LandingContractConfig {
  const rawId = readOptionalString(env, 'LANDING_PROTOBUF_SCHEMA_ID');
  let protobufSchemaId: number | undefined;
  if (rawId !== undefined) {
    protobufSchemaId = Number(rawId);
    if (!/^\d+$/.test(rawId) || !Number.isSafeInteger(protobufSchemaId) || protobufSchemaId > 0x7fffffff) {
      throw new ConfigError(`LANDING_PROTOBUF_SCHEMA_ID must be a schema registry id (an integer from 0 to 2147483647), got "${rawId}"`);
    }
  }
  return { protobufSchemaId, validateEnvelopes: readBoolean(env, 'LANDING_VALIDATE_ENVELOPES', true) };
}


export function defaultPipelineConfig(): PipelineConfig {
  return readPipelineConfig({});
}

/**
 * Environment variables (all optional):
 *   KAFKA_TOPIC                    landing topic, default events.raw (the ingress writes it)
 *   DLQ_TOPIC                      default events-dlq
 *   KAFKA_TOPIC_ATTEMPTS | _SESSIONS | _PLACEMENTS | _ACTIVITIES | _ML_TRAINING  seed 003 output topics
 *   ROUTE_TOPICS                   comma-separated topics routing rules may target; default the five above
 *   DLQ_MAX_REPLAYS                replays of one dead letter before it is quarantined, default 3
 *   REF_USERS_TOPIC, REF_ITEMS_TOPIC  default ref.users, ref.items
 *   AGGREGATES_TOPIC               default processor.aggregates
 *   CLEAN_EVENTS_TOPIC             default events.clean (deduplicated, enriched, filtered events)
 *   DEDUPE_TTL_ATTEMPT | _SESSION | _PLACEMENT | _DEFAULT   durations (24h, 12h, 7d, 24h)
 *   DEDUPE_PURGE_INTERVAL          default 5m (stream time)
 *   AGGREGATION_EMIT               buffered (default: latest row per window once per interval) | onUpdate | onWindowClose
 *   AGGREGATION_EMIT_INTERVAL      default 1s (buffered)
 *   AGGREGATION_GRACE              default 5m
 *   AGGREGATION_PREAGGREGATE       default true: pre-aggregate before repartition topics (docs/PREAGGREGATION.md)
 *   FILTER_RULES_FILE              JSON filter rules, watched and reloaded on change
 *   PROTOBUF_OUTPUT_TOPICS, PROTOBUF_OUTPUT_SCHEMA_ID   routed topics written as Protobuf, and their Confluent schema id
 *   LANDING_PROTOBUF_SCHEMA_ID, LANDING_VALIDATE_ENVELOPES   the landing contract (docs/LANDING.md)
 */
function readLandingRetention(env: Env): PipelineConfig['landingRetention'] {
  const retention: PipelineConfig['landingRetention'] = {};
  if (readOptionalString(env, 'LANDING_RETENTION_MS') !== undefined) retention.retentionMs = readDurationMs(env, 'LANDING_RETENTION_MS', 0);
  if (readOptionalString(env, 'LANDING_RETENTION_BYTES') !== undefined) retention.retentionBytes = readInteger(env, 'LANDING_RETENTION_BYTES', -1, -1, Number.MAX_SAFE_INTEGER);
  return retention;
}

/** topics: the names the ingress shares (config/TopicNames.ts); the composition root reads them once for both. */
export function readPipelineConfig(env: Env = process.env, topics: TopicNames = readTopicNames(env)): PipelineConfig {
  const outputTopics = readOutputTopics(env);
  const routeTopics = readRouteTopics(env, outputTopics);
  const config: PipelineConfig = {
    landingTopic: topics.landing,
    landingRetention: readLandingRetention(env),
    dlqTopic: topics.dlq,
    outputTopics,
    routeTopics,
    dlqMaxReplays: readInteger(env, 'DLQ_MAX_REPLAYS', DEFAULT_MAX_REPLAYS, 1, 1000),
    referenceTopics: {
      users: readString(env, 'REF_USERS_TOPIC', DEFAULT_REFERENCE_TOPICS.users),
      items: readString(env, 'REF_ITEMS_TOPIC', DEFAULT_REFERENCE_TOPICS.items),
    },
    aggregatesTopic: readString(env, 'AGGREGATES_TOPIC', 'processor.aggregates'),
    cleanEventsTopic: readString(env, 'CLEAN_EVENTS_TOPIC', 'events.clean'),
    dedupe: {
      ttlMs: {
        attempt: readDurationMs(env, 'DEDUPE_TTL_ATTEMPT', DEFAULT_DEDUPE_TTLS.attempt!),
        session: readDurationMs(env, 'DEDUPE_TTL_SESSION', DEFAULT_DEDUPE_TTLS.session!),
        placement: readDurationMs(env, 'DEDUPE_TTL_PLACEMENT', DEFAULT_DEDUPE_TTLS.placement!),
      },
      defaultTtlMs: readDurationMs(env, 'DEDUPE_TTL_DEFAULT', 24 * 3_600_000),
      purgeIntervalMs: readDurationMs(env, 'DEDUPE_PURGE_INTERVAL', 5 * 60_000),
    },
    aggregation: {
      emit: readEnum<AggregateEmit>(env, 'AGGREGATION_EMIT', ['buffered', 'onUpdate', 'onWindowClose'], 'buffered'),
      emitIntervalMs: readDurationMs(env, 'AGGREGATION_EMIT_INTERVAL', 1000),
      graceMs: readDurationMs(env, 'AGGREGATION_GRACE', 5 * 60_000),
      preaggregate: readBoolean(env, 'AGGREGATION_PREAGGREGATE', true),
    },
    filterRulesFile: readOptionalString(env, 'FILTER_RULES_FILE'),
    outputFormats: readOutputFormats(env, routeTopics),
    landing: readLandingContract(env),
  };
  if (config.dedupe.purgeIntervalMs < 1) throw new ConfigError('DEDUPE_PURGE_INTERVAL must be at least 1ms');
  if (config.aggregation.emitIntervalMs < 1) throw new ConfigError('AGGREGATION_EMIT_INTERVAL must be at least 1ms');
  for (const [name, topic] of Object.entries(config.outputTopics)) {
    if (topic === config.landingTopic) throw new ConfigError(`the ${name} output topic must not be the landing topic ${config.landingTopic}`);
  }
  const internal = new Map<string, string>([
    [config.landingTopic, 'the landing topic (KAFKA_TOPIC)'],
    [config.dlqTopic, 'the DLQ (DLQ_TOPIC)'],
    [config.referenceTopics.users, 'a reference topic'],
    [config.referenceTopics.items, 'a reference topic'],
    [config.aggregatesTopic, 'the aggregates topic'],
    [config.cleanEventsTopic, 'the clean events topic (ClickHouse would count events twice)'],
  ]);
  for (const topic of config.routeTopics) {
    const role = internal.get(topic) ?? (/-(changelog|repartition)$|\.(replay-cursor|quarantine)$/.test(topic) ? 'an internal topic' : undefined);
    if (role) throw new ConfigError(`ROUTE_TOPICS must not name ${role}: ${topic}`);
  }
  return config;
}

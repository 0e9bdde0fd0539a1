import { ConfigError, readDurationMs, readEnum, readOptionalString, readString, type Env } from '../app/env.js';
import { DEFAULT_DLQ_TOPIC } from './DeadLetter.js';
import { DEFAULT_DEDUPE_TTLS } from './DedupeProcessor.js';
import { DEFAULT_REFERENCE_TOPICS, type ReferenceTopics } from './ReferenceData.js';
import { readOutputTopics, type OutputTopics } from './RoutingRules.js';
import type { AggregateEmit } from './WindowedAggregations.js';

/** Everything the default pipeline needs to know; readPipelineConfig() fills it from the environment. */
export interface PipelineConfig {
  /** The ingress's landing topic (KAFKA_TOPIC, default events.raw). */
  landingTopic: string;
  /** DLQ_TOPIC, default events-dlq (seed 001 names the variable and this default; seed 003's dlq.events is one setting away). */
  dlqTopic: string;
  outputTopics: OutputTopics;
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
  };
  /** FILTER_RULES_FILE: JSON rule file; the five default rules when unset. */
  filterRulesFile?: string;
}

export function defaultPipelineConfig(): PipelineConfig {
  return readPipelineConfig({});
}

/**
 * Environment variables (all optional):
 *   KAFKA_TOPIC                    landing topic, default events.raw (the ingress writes it)
 *   DLQ_TOPIC                      default events-dlq
 *   KAFKA_TOPIC_ATTEMPTS | _SESSIONS | _PLACEMENTS | _ACTIVITIES | _ML_TRAINING  seed 003 output topics
 *   REF_USERS_TOPIC, REF_ITEMS_TOPIC  default ref.users, ref.items
 *   AGGREGATES_TOPIC               default processor.aggregates
 *   CLEAN_EVENTS_TOPIC             default events.clean (deduplicated, enriched, filtered events)
 *   DEDUPE_TTL_ATTEMPT | _SESSION | _PLACEMENT | _DEFAULT   durations (24h, 12h, 7d, 24h)
 *   DEDUPE_PURGE_INTERVAL          default 5m (stream time)
 *   AGGREGATION_EMIT               buffered (default: latest row per window once per interval) | onUpdate | onWindowClose
 *   AGGREGATION_EMIT_INTERVAL      default 1s (buffered)
 *   AGGREGATION_GRACE              default 5m
 *   FILTER_RULES_FILE              JSON filter rules, watched and reloaded on change
 */
export function readPipelineConfig(env: Env = process.env): PipelineConfig {
  const config: PipelineConfig = {
    landingTopic: readString(env, 'KAFKA_TOPIC', 'events.raw'),
    dlqTopic: readString(env, 'DLQ_TOPIC', DEFAULT_DLQ_TOPIC),
    outputTopics: readOutputTopics(env),
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
    },
    filterRulesFile: readOptionalString(env, 'FILTER_RULES_FILE'),
  };
  if (config.dedupe.purgeIntervalMs < 1) throw new ConfigError('DEDUPE_PURGE_INTERVAL must be at least 1ms');
  if (config.aggregation.emitIntervalMs < 1) throw new ConfigError('AGGREGATION_EMIT_INTERVAL must be at least 1ms');
  for (const [name, topic] of Object.entries(config.outputTopics)) {
    if (topic === config.landingTopic) throw new ConfigError(`the ${name} output topic must not be the landing topic ${config.landingTopic}`);
  }
  return config;
}

import { readString, type Env } from './EnvReaders.js';

/** Seed 001's names and defaults (seed 003 called the DLQ dlq.events; DLQ_TOPIC=dlq.events gives that). */
export const DEFAULT_LANDING_TOPIC = 'events.raw';
export const DEFAULT_DLQ_TOPIC = 'events-dlq';

/**
 * The topics the ingress and the topology share: the landing topic the ingress writes and the
 * topology reads (KAFKA_TOPIC), and the DLQ both write refused events to (DLQ_TOPIC). Read once
 * by the composition root and passed to readIngressConfig and readPipelineConfig, so the two
 * cannot disagree.
 */
export interface TopicNames {
  landing: string;
  dlq: string;
}

export function readTopicNames(env: Env): TopicNames {
  return {
    landing: readString(env, 'KAFKA_TOPIC', DEFAULT_LANDING_TOPIC),
    dlq: readString(env, 'DLQ_TOPIC', DEFAULT_DLQ_TOPIC),
  };
}

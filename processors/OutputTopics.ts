import { ConfigError, readList, readString, type Env } from '../config/index.js';

// Apart from RoutingRules.ts (the rules and their processor): PipelineConfig reads these names,
// and every thread reads PipelineConfig, the sink's too.

/** seed 003's topics, named by KAFKA_TOPIC_* with the seed's defaults. */
export interface OutputTopics {
  attempts: string;
  sessions: string;
  placements: string;
  activities: string;
  mlTraining: string;
}

/**
 * The topics routing rules may target (ROUTE_TOPICS, comma-separated; default the five output
 * topics). A rule naming any other topic is refused: rules come over HTTP, and a rule to the
 * landing, reference, DLQ or a changelog topic would corrupt the pipeline, one to a new name would
 * create a topic. Extra topics listed here are created with the output topics at start.
 */
export function readRouteTopics(env: Env, outputTopics: OutputTopics): string[] {
  const topics = [...new Set(readList(env, 'ROUTE_TOPICS', Object.values(outputTopics)))];
  if (topics.length === 0) throw new ConfigError('ROUTE_TOPICS must name at least one topic');
  for (const topic of topics) if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic)) throw new ConfigError(`ROUTE_TOPICS: "${topic}" is not a valid topic name`);
  return topics;
}

export function readOutputTopics(env: Env = process.env): OutputTopics {
  return {
    attempts: readString(env, 'KAFKA_TOPIC_ATTEMPTS', 'user.attempts'),
    sessions: readString(env, 'KAFKA_TOPIC_SESSIONS', 'user.sessions'),
    placements: readString(env, 'KAFKA_TOPIC_PLACEMENTS', 'user.placements'),
    activities: readString(env, 'KAFKA_TOPIC_ACTIVITIES', 'user.activities'),
    mlTraining: readString(env, 'KAFKA_TOPIC_ML_TRAINING', 'ml.training_events'),
  };
}

import { DEFAULT_DLQ_TOPIC, DEFAULT_LANDING_TOPIC, readTopicNames, type Env } from '../../config/index.js';
import { readIngressConfig } from '../../ingress/IngressConfig.js';
import { readPipelineConfig } from '../../processors/PipelineConfig.js';
import { sinkSettingsFromEnv } from '../../sink/SinkConfig.js';

/** The landing topic and the DLQ each room reads from one environment. */
function topicsSeenByEachRoom(env: Env) {
  const ingress = readIngressConfig(env);
  const pipeline = readPipelineConfig(env);
  return {
    ingress: { landing: ingress.landingTopic, dlq: ingress.dlqTopic },
    topology: { landing: pipeline.landingTopic, dlq: pipeline.dlqTopic },
    sink: { dlq: sinkSettingsFromEnv(env).dlqTopic },
  };
}

describe('TopicNames: KAFKA_TOPIC and DLQ_TOPIC have one reader, so the rooms cannot disagree', () => {
  test('unset, every room uses config defaults: events.raw and events-dlq', () => {
    expect(readTopicNames({})).toEqual({ landing: DEFAULT_LANDING_TOPIC, dlq: DEFAULT_DLQ_TOPIC });
    expect([DEFAULT_LANDING_TOPIC, DEFAULT_DLQ_TOPIC]).toEqual(['events.raw', 'events-dlq']);
    expect(topicsSeenByEachRoom({})).toEqual({
      ingress: { landing: 'events.raw', dlq: 'events-dlq' },
      topology: { landing: 'events.raw', dlq: 'events-dlq' },
      sink: { dlq: 'events-dlq' },
    });
  });

  test('set, the ingress, the topology and the sink all follow the same variables', () => {
    const env = { KAFKA_TOPIC: 'landing.v2', DLQ_TOPIC: 'dlq.events' };
    expect(readTopicNames(env)).toEqual({ landing: 'landing.v2', dlq: 'dlq.events' });
    expect(topicsSeenByEachRoom(env)).toEqual({
      ingress: { landing: 'landing.v2', dlq: 'dlq.events' },
      topology: { landing: 'landing.v2', dlq: 'dlq.events' },
      sink: { dlq: 'dlq.events' },
    });
  });

  test('names the composition root read and passed down win over the environment', () => {
    const passed = { landing: 'passed.landing', dlq: 'passed.dlq' };
    const env = { KAFKA_TOPIC: 'env.landing', DLQ_TOPIC: 'env.dlq' };
    expect(readIngressConfig(env, passed)).toMatchObject({ landingTopic: 'passed.landing', dlqTopic: 'passed.dlq' });
    expect(readPipelineConfig(env, passed)).toMatchObject({ landingTopic: 'passed.landing', dlqTopic: 'passed.dlq' });
  });
});

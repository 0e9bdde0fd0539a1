import { StreamsBuilder, type Topology } from '../topology/index.js';

/**
 * The smallest useful topology, for reading and for tests: every landing event, marked by the
 * pipeline that saw it, copied to one output topic.
 *
 *   events.raw ──▶ stamp-pipeline ──▶ events.processed
 */
export function examplePipeline(landingTopic = 'events.raw', outputTopic = 'events.processed'): Topology {
  const builder = new StreamsBuilder();
  builder
    .stream<string, Record<string, unknown>>(landingTopic, { name: 'landing-events' })
    .mapValues((event) => ({ ...event, pipeline: 'example' }), { name: 'stamp-pipeline' })
    .to(outputTopic, { name: 'processed-events' });
  return builder.build();
}

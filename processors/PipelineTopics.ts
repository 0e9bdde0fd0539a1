import { UnknownTopicError, type Log } from '../log/Log.js';
import type { PipelineConfig } from './PipelineConfig.js';
import { ensureReferenceTopic } from './ReferenceData.js';

/**
 * Creates the topics the pipeline needs with the right shapes before the app starts: the users
 * reference topic with the landing topic's partition count (the join is co-partitioned; a
 * mismatch stops the start), compacted reference topics, output and aggregate topics with the
 * landing partition count (so keys keep their partition), and a one-partition DLQ.
 *
 * Its own module, apart from DefaultPipeline.ts: a thread that runs only the sink creates the
 * topics too, and should not load the topology and the processors to do it (issue 13: a sink
 * thread's idle heap).
 */
export async function ensurePipelineTopics(log: Log, config: PipelineConfig, landingPartitions = 4): Promise<number> {
  let partitions: number;
  try {
    partitions = await log.partitionCount(config.landingTopic);
  } catch (error) {
    if (!(error instanceof UnknownTopicError)) throw error;
    await log.ensureTopic(config.landingTopic, { partitions: landingPartitions, ...config.landingRetention });
    partitions = landingPartitions;
  }
  await ensureReferenceTopic(log, config.referenceTopics.users, partitions);
  await ensureReferenceTopic(log, config.referenceTopics.items, 1);
  // Every topic a routing rule may target exists up front: rules never create topics (issue 12).
  const produced = [...Object.values(config.outputTopics), ...config.routeTopics, config.aggregatesTopic, config.cleanEventsTopic];
  for (const topic of new Set(produced)) await log.ensureTopic(topic, { partitions });
  await log.ensureTopic(config.dlqTopic, { partitions: 1 });
  return partitions;
}

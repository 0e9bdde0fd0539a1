import type { Log, TopicPartition, TopicPartitionOffset } from '../../log/Log.js';
import { readPipelineConfig, type PipelineConfig } from '../../processors/index.js';
import { defaultSinkRoutes } from '../../sink/SinkConfig.js';
import type { Topology } from '../../topology/index.js';
import type { Env } from '../../config/index.js';
import { CliError } from './cli-support.js';

/** Where to start again: the beginning of the retained history, or the first record at or after a time. */
export type ReprocessFrom = { kind: 'earliest' } | { kind: 'time'; ms: number };

export function parseFrom(value: unknown): ReprocessFrom {
  if (value === 'earliest') return { kind: 'earliest' };
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) {
    throw new CliError(`--from takes "earliest" or an ISO 8601 time such as 2026-12-01T00:00:00Z (got ${JSON.stringify(value ?? '')})`, 2);
  }
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new CliError(`--from ${value} is not a valid time`, 2);
  return { kind: 'time', ms };
}

export function pipelineConfigFor(env: Env): PipelineConfig {
  try {
    return readPipelineConfig(env);
  } catch (error) {
    throw new CliError(`configuration error: ${(error as Error).message}`);
  }
}

/** How far back a source topic's retained history reaches. */
export interface SourceReach {
  topic: string;
  records: number;
  /** Timestamp of the oldest retained record over its partitions; undefined when empty. */
  oldestMs: number | undefined;
}

export interface ReprocessPlan {
  applicationId: string;
  sinkGroupId: string;
  /** The topology's input topics and where its group starts again. */
  sourceOffsets: TopicPartitionOffset[];
  /** Internal topics (changelogs, repartition and foreign-key topics) that exist and are deleted. */
  internalTopics: string[];
  /** The sink's new committed offsets: the end of each topology output it reads (its input topics: the reset point). */
  sinkOffsets: TopicPartitionOffset[];
  /** Per sink topic partition, the first offset whose rows are stale (--from time only). */
  cuts: Map<string, Map<number, number>>;
  /** The tables the sink's routes write. */
  tables: string[];
  reach: SourceReach[];
}

/** The first offset of the partition whose record's timestamp is at or after `ms` (binary search; timestamps taken as non-decreasing, as Kafka's time index does). */
export async function offsetForTime(log: Log, tp: TopicPartition, ms: number): Promise<number> {
  let lo = await log.beginningOffset(tp);
  let hi = await log.endOffset(tp);
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const [record] = await log.read(tp, mid, 1);
    if (!record || record.offset >= hi) {
      hi = mid;
    } else if (record.timestamp >= ms) {
      hi = mid;
    } else {
      lo = record.offset + 1;
    }
  }
  return lo;
}

async function partitionsOf(log: Log, topic: string): Promise<TopicPartition[]> {
  return Array.from({ length: await log.partitionCount(topic) }, (_, partition) => ({ topic, partition }));
}

/** Internal topics as Kafka Streams' reset tool finds them: named <application id>-...-changelog|-repartition, or a foreign-key join's -topic. */
export function isInternalTopic(applicationId: string, topic: string): boolean {
  return topic.startsWith(`${applicationId}-`) && /-(changelog|repartition|topic)$/.test(topic);
}

export async function planReprocess(log: Log, options: { env: Env; applicationId: string; sinkGroupId: string; topology: Topology; from: ReprocessFrom }): Promise<ReprocessPlan> {
  const { applicationId, topology, from } = options;
  const pipeline = pipelineConfigFor(options.env);
  const existing = new Set(await log.listTopics());
  const sources = new Set<string>();
  for (const node of topology.allNodes()) if (node.kind === 'source' && !node.internal) for (const topic of node.topics) sources.add(topic);
  const tables = new Set([pipeline.referenceTopics.users, pipeline.referenceTopics.items]);

  const internal = new Set<string>();
  for (const def of topology.allInternalTopics()) internal.add(`${applicationId}-${def.name}`);
  for (const store of topology.allStores()) if (store.loggingEnabled !== false) internal.add(`${applicationId}-${store.name}-changelog`);
  for (const topic of existing) if (isInternalTopic(applicationId, topic)) internal.add(topic);

  const sourceOffsets: TopicPartitionOffset[] = [];
  const reach: SourceReach[] = [];
  for (const topic of [...sources].filter((t) => existing.has(t)).sort()) {
    let records = 0;
    let oldestMs: number | undefined;
    for (const tp of await partitionsOf(log, topic)) {
      const begin = await log.beginningOffset(tp);
      const end = await log.endOffset(tp);
      records += end - begin;
      const [first] = await log.read(tp, begin, 1);
      if (first) oldestMs = Math.min(oldestMs ?? first.timestamp, first.timestamp);
      // Reference tables (compacted, read as KTables) are always read whole: their state is deleted too.
      const offset = from.kind === 'earliest' || tables.has(topic) ? begin : await offsetForTime(log, tp, from.ms);
      sourceOffsets.push({ ...tp, offset });
    }
    reach.push({ topic, records, oldestMs });
  }

  const routes = defaultSinkRoutes({ rawEvents: pipeline.cleanEventsTopic, aggregates: pipeline.aggregatesTopic });
  const sinkOffsets: TopicPartitionOffset[] = [];
  const cuts = new Map<string, Map<number, number>>();
  for (const topic of [...new Set(routes.map((route) => route.topic))]) {
    if (!existing.has(topic)) continue;
    const topicCuts = new Map<number, number>();
    for (const tp of await partitionsOf(log, topic)) {
      if (sources.has(topic)) {
        // The sink reads an input of the topology: it starts again where the topology does.
        const offset = sourceOffsets.find((o) => o.topic === topic && o.partition === tp.partition)!.offset;
        sinkOffsets.push({ ...tp, offset });
        topicCuts.set(tp.partition, offset);
      } else {
        // An output: the records there now are replaced by the ones the reprocess writes after them.
        sinkOffsets.push({ ...tp, offset: await log.endOffset(tp) });
        topicCuts.set(tp.partition, from.kind === 'earliest' ? 0 : await offsetForTime(log, tp, from.ms));
      }
    }
    cuts.set(topic, topicCuts);
  }
  return {
    applicationId,
    sinkGroupId: options.sinkGroupId,
    sourceOffsets,
    internalTopics: [...internal].filter((t) => existing.has(t)).sort(),
    sinkOffsets,
    cuts,
    tables: [...new Set(routes.map((route) => route.table))],
    reach,
  };
}

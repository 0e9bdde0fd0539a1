import type { Log } from '../../log/Log.js';
import { changelogTopicConfig, changelogTopicName } from '../../state/StoreBuilder.js';
import { UnknownTopicError } from '../../log/Log.js';
import type { Subtopology } from '../Subtopologies.js';
import { resolveTopicName, type Topology } from '../Topology.js';
import { needsPersistedStreamTime, taskStreamTimeStore } from './TaskStreamTime.js';

export interface TopicPlan {
  subtopologies: Subtopology[];
  partitionsOf: Map<number, number>;
  allTopics: string[];
  sourceTopicsOf(sub: Subtopology): string[];
}

/**
 * Decides and creates every topic the topology needs before it runs (Kafka Streams'
 * InternalTopicManager): missing user topics get the default partition count; a repartition topic
 * gets the partition count of the sub-topology writing it; a changelog gets its sub-topology's.
 * All sources of one sub-topology must have the same partition count (co-partitioning), or the
 * start fails naming them.
 */
export async function planTopics(topology: Topology, log: Log, applicationId: string, defaultPartitions: number): Promise<TopicPlan> {
  const subtopologies = topology.subtopologies();
  const internalPartitions = new Map<string, number>(
    topology.allInternalTopics().filter((t) => t.partitions).map((t) => [resolveTopicName(applicationId, t.name, true), t.partitions!]),
  );
  const copartitioned = new Set(topology.allInternalTopics().filter((t) => t.copartitioned && !t.partitions).map((t) => resolveTopicName(applicationId, t.name, true)));
  const partitionsOf = new Map<number, number>();
  const allTopics = new Set<string>();
  const sourceTopicsOf = (sub: Subtopology) => sub.sourceTopics.map((s) => resolveTopicName(applicationId, s.topic, s.internal));

  const ensureUserTopic = async (topic: string): Promise<number> => {
    try {
      return await log.partitionCount(topic);
    } catch (error) {
      if (!(error instanceof UnknownTopicError)) throw error;
      await log.ensureTopic(topic, { partitions: defaultPartitions });
      return log.partitionCount(topic);
    }
  };

  let pending = [...subtopologies];
  while (pending.length > 0) {
    const next: Subtopology[] = [];
    for (const sub of pending) {
      const counts: Array<[string, number]> = [];
      let unresolved = false;
      const waitingForReaders: string[] = [];
      for (const source of sub.sourceTopics) {
        const topic = resolveTopicName(applicationId, source.topic, source.internal);
        if (source.internal && copartitioned.has(topic) && !internalPartitions.has(topic)) {
          waitingForReaders.push(topic);
        } else if (source.internal) {
          const count = internalPartitions.get(topic);
          if (count === undefined) unresolved = true;
          else counts.push([topic, count]);
        } else {
          counts.push([topic, await ensureUserTopic(topic)]);
        }
      }
      if (unresolved || (waitingForReaders.length > 0 && counts.length === 0)) {
        next.push(sub);
        continue;
      }
      // A co-partitioned internal topic takes the partition count of the topics read beside it.
      for (const topic of waitingForReaders) {
        internalPartitions.set(topic, counts[0]![1]);
        counts.push([topic, counts[0]![1]]);
      }
      const distinct = new Set(counts.map(([, count]) => count));
      if (distinct.size > 1) {
        throw new Error(
          `sub-topology ${sub.id} reads topics that are not co-partitioned: ${counts.map(([t, c]) => `${t} (${c} partitions)`).join(', ')}; ` +
            'joined or merged topics need the same partition count',
        );
      }
      const partitions = counts[0]![1];
      partitionsOf.set(sub.id, partitions);
      for (const node of sub.nodes) {
        if (node.kind === 'sink' && node.internal && typeof node.topic === 'string') {
          const topic = resolveTopicName(applicationId, node.topic, true);
          if (!internalPartitions.has(topic) && !copartitioned.has(topic)) internalPartitions.set(topic, partitions);
        }
      }
    }
    if (next.length === pending.length) {
      throw new Error(`cannot size repartition topics of sub-topologies ${next.map((s) => s.id).join(', ')}: they only read each other`);
    }
    pending = next;
  }

  for (const [topic, partitions] of internalPartitions) {
    await log.ensureTopic(topic, { partitions, cleanupPolicy: 'delete' });
    allTopics.add(topic);
  }
  for (const sub of subtopologies) {
    const partitions = partitionsOf.get(sub.id)!;
    for (const topic of sourceTopicsOf(sub)) allTopics.add(topic);
    const builders = sub.stores.map((storeName) => topology.storeBuilder(storeName));
    if (needsPersistedStreamTime(sub)) builders.push(taskStreamTimeStore(sub));
    for (const builder of builders) {
      // withLoggingDisabled: no changelog at all, as Kafka Streams creates none for such a store.
      if (builder.loggingEnabled === false) continue;
      const changelog = changelogTopicName(applicationId, builder.name);
      await log.ensureTopic(changelog, changelogTopicConfig(builder, partitions));
      allTopics.add(changelog);
    }
    for (const node of sub.nodes) {
      if (node.kind === 'sink' && !node.internal && typeof node.topic === 'string') {
        const count = await ensureUserTopic(node.topic);
        allTopics.add(node.topic);
        if (node.partitioner) node.partitionCount = count;
      }
      // A sink's StreamPartitioner is given the partition count of its topic.
      if (node.kind === 'sink' && node.internal && node.partitioner && typeof node.topic === 'string') {
        node.partitionCount = internalPartitions.get(resolveTopicName(applicationId, node.topic, true));
      }
    }
  }
  for (const global of topology.allGlobalStores()) {
    await ensureUserTopic(global.topic);
    allTopics.add(global.topic);
  }
  return { subtopologies, partitionsOf, allTopics: [...allTopics], sourceTopicsOf };
}

import { partitionKey, type Log, type TopicPartition } from './Log.js';

/**
 * Records each partition holds past a consumer group's committed offset (past its beginning where
 * the group has committed nothing), keyed "topic:partition". Read every second by the lag monitors
 * (topology/runtime/ConsumerLagMonitor.ts, app/TopologyBackpressure.ts), so in three round trips at
 * most whatever the partition count: committed and end offsets together, then the beginnings of
 * the partitions without a commit.
 */
export async function groupLag(log: Log, groupId: string, partitions: TopicPartition[]): Promise<Map<string, number>> {
  const [committed, ends] = await Promise.all([log.committedOffsets(groupId, partitions), log.endOffsets(partitions)]);
  const uncommitted = partitions.filter((tp) => !committed.has(partitionKey(tp)));
  const beginnings = uncommitted.length > 0 ? await log.beginningOffsets(uncommitted) : undefined;
  const lag = new Map<string, number>();
  for (const tp of partitions) {
    const key = partitionKey(tp);
    lag.set(key, Math.max(0, ends.get(key)! - (committed.get(key) ?? beginnings!.get(key)!)));
  }
  return lag;
}

import type { Admin, Consumer } from '@platformatic/kafka';
import { partitionKey, type TopicPartition } from '../Log.js';

const READ_COMMITTED = 1;
export const EARLIEST = -2n;
export const LATEST = -1n;

/**
 * ListOffsets (read_committed: LATEST is the last stable offset), keyed "topic:partition". One
 * client call for every topic: the client sends one ListOffsets request per partition leader.
 */
export async function listPartitionOffsets(client: Consumer, partitions: TopicPartition[], timestamp: bigint): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (partitions.length === 0) return out;
  const byTopic = new Map<string, number[]>();
  for (const tp of partitions) {
    const list = byTopic.get(tp.topic);
    if (list) list.push(tp.partition);
    else byTopic.set(tp.topic, [tp.partition]);
  }
  const offsets = await client.listOffsets({ topics: [...byTopic.keys()], partitions: Object.fromEntries(byTopic), timestamp, isolationLevel: READ_COMMITTED });
  for (const [topic, list] of byTopic) {
    const values = offsets.get(topic) ?? [];
    for (const partition of list) {
      const value = values[partition];
      if (value !== undefined) out.set(`${topic}:${partition}`, Number(value));
    }
  }
  return out;
}

/**
 * A group's committed offsets (next offset to read), keyed "topic:partition"; partitions
 * without one are absent. requireStable: offsets of a transaction still open are waited for
 * (the broker answers UNSTABLE_OFFSET_COMMIT, which the client retries) rather than read stale.
 */
export async function committedGroupOffsets(admin: Admin, groupId: string, partitions: TopicPartition[]): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  if (partitions.length === 0) return result;
  const topics = [...new Set(partitions.map((tp) => tp.topic))].map((name) => ({
    name,
    partitionIndexes: partitions.filter((tp) => tp.topic === name).map((tp) => tp.partition),
  }));
  const [group] = await admin.listConsumerGroupOffsets({ groups: [{ groupId, topics }], requireStable: true });
  for (const topic of group?.topics ?? []) {
    for (const p of topic.partitions) {
      if (p.committedOffset >= 0n) result.set(`${topic.name}:${p.partitionIndex}`, Number(p.committedOffset));
    }
  }
  return result;
}

/** Where a newly assigned partition starts: the committed offset, else the reset policy's end. */
export async function startingOffsets(
  admin: Admin,
  client: Consumer,
  groupId: string,
  partitions: TopicPartition[],
  reset: 'earliest' | 'latest',
): Promise<Map<string, number>> {
  const committed = await committedGroupOffsets(admin, groupId, partitions);
  const missing = partitions.filter((tp) => !committed.has(partitionKey(tp)));
  const resetOffsets = missing.length > 0 ? await listPartitionOffsets(client, missing, reset === 'earliest' ? EARLIEST : LATEST) : new Map<string, number>();
  const out = new Map<string, number>();
  for (const tp of partitions) {
    const key = partitionKey(tp);
    out.set(key, committed.get(key) ?? resetOffsets.get(key) ?? 0);
  }
  return out;
}

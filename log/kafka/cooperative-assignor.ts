import { Reader, Writer } from '@platformatic/kafka';
import { partitionKey, type TopicPartition } from '../Log.js';

/**
 * The consumer-group protocol data of a classic group ("consumer" protocol type), in Kafka's own
 * encodings (ConsumerProtocolSubscription v1, ConsumerProtocolAssignment v0) so the group reads
 * normally in Kafka's tools, and the leader-side cooperative sticky assignor.
 *
 * Cooperative (incremental) rebalancing, as Kafka's CooperativeStickyAssignor does it: members
 * keep what they own; a partition that must move is first only taken from its owner (the owner
 * revokes it and rejoins at once), and handed to its new owner in the next round. No member ever
 * gives up partitions it keeps, so only moved partitions pause.
 */

export const PROTOCOL_NAME = 'cooperative-sticky';

export interface Subscription {
  topics: string[];
  owned: TopicPartition[];
}

function groupByTopic(partitions: TopicPartition[]): { topic: string; partitions: number[] }[] {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    const list = byTopic.get(topic) ?? [];
    list.push(partition);
    byTopic.set(topic, list);
  }
  return [...byTopic].map(([topic, list]) => ({ topic, partitions: list.sort((a, b) => a - b) }));
}

function writeTopicPartitions(writer: Writer, partitions: TopicPartition[]): Writer {
  return writer.appendArray(
    groupByTopic(partitions),
    (w, { topic, partitions: list }) => {
      w.appendString(topic, false).appendArray(list, (inner, p) => inner.appendInt32(p), false, false);
    },
    false,
    false,
  );
}

function readTopicPartitions(reader: Reader): TopicPartition[] {
  const groups = reader.readArray((r) => ({ topic: r.readString(false), partitions: r.readArray((inner) => inner.readInt32(), false, false) }), false, false);
  return groups.flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition })));
}

export function encodeSubscription(subscription: Subscription): Buffer {
  const writer = Writer.create()
    .appendInt16(1)
    .appendArray(subscription.topics, (w, topic) => w.appendString(topic, false), false, false)
    .appendBytes(null, false);
  return writeTopicPartitions(writer, subscription.owned).buffer;
}

export function decodeSubscription(buffer: Buffer | null): Subscription {
  if (!buffer || buffer.length === 0) return { topics: [], owned: [] };
  const reader = Reader.from(buffer);
  const version = reader.readInt16();
  const topics = reader.readArray((r) => r.readString(false), false, false);
  reader.readNullableBytes(false);
  const owned = version >= 1 && reader.remaining > 0 ? readTopicPartitions(reader) : [];
  return { topics, owned };
}

export function encodeAssignment(partitions: TopicPartition[]): Buffer {
  return writeTopicPartitions(Writer.create().appendInt16(0), partitions).appendBytes(null, false).buffer;
}

export function decodeAssignment(buffer: Buffer | null): TopicPartition[] {
  if (!buffer || buffer.length < 2) return [];
  const reader = Reader.from(buffer);
  reader.readInt16();
  if (reader.remaining < 4) return [];
  return readTopicPartitions(reader);
}

/**
 * Leader side. members: memberId → subscription (with owned partitions); partitionCounts:
 * topic → partition count. Returns memberId → partitions to own in this generation.
 */
export function assignCooperative(members: Map<string, Subscription>, partitionCounts: Map<string, number>): Map<string, TopicPartition[]> {
  const memberIds = [...members.keys()].sort();
  const result = new Map<string, TopicPartition[]>(memberIds.map((id) => [id, []]));
  const all: TopicPartition[] = [];
  for (const [topic, count] of [...partitionCounts].sort(([a], [b]) => a.localeCompare(b))) {
    for (let partition = 0; partition < count; partition++) all.push({ topic, partition });
  }

  // Who subscribes to what; a partition counts toward the quota of the members subscribing to it.
  const subscribers = (topic: string) => memberIds.filter((id) => members.get(id)!.topics.includes(topic));

  // Balanced quotas: floor or ceil of the share; members owning more get the ceil ones first.
  const ownedCount = (id: string) => members.get(id)!.owned.length;
  const byOwned = [...memberIds].sort((a, b) => ownedCount(b) - ownedCount(a) || a.localeCompare(b));
  const base = Math.floor(all.length / Math.max(1, memberIds.length));
  let extra = all.length - base * memberIds.length;
  const quota = new Map<string, number>();
  for (const id of byOwned) {
    quota.set(id, base + (extra > 0 ? 1 : 0));
    if (extra > 0) extra--;
  }

  // 1. Keep owned partitions (still existing, subscribed, not claimed twice) up to the quota.
  const owner = new Map<string, string>(); // partition → previous owner (from the subscriptions)
  const taken = new Set<string>();
  for (const id of byOwned) {
    for (const tp of members.get(id)!.owned) {
      const key = partitionKey(tp);
      if (!owner.has(key)) owner.set(key, id);
      const exists = (partitionCounts.get(tp.topic) ?? 0) > tp.partition;
      if (!exists || taken.has(key) || !members.get(id)!.topics.includes(tp.topic)) continue;
      if (result.get(id)!.length >= quota.get(id)!) continue;
      result.get(id)!.push(tp);
      taken.add(key);
    }
  }

  // 2. Hand out the rest to members under quota, fewest first. A partition still owned by another
  //    member stays unassigned this round: its owner revokes it and rejoins, then it moves.
  for (const tp of all) {
    const key = partitionKey(tp);
    if (taken.has(key)) continue;
    const candidates = subscribers(tp.topic);
    if (candidates.length === 0) continue;
    const target = candidates
      .filter((id) => result.get(id)!.length < quota.get(id)!)
      .sort((a, b) => result.get(a)!.length - result.get(b)!.length || a.localeCompare(b))[0];
    const chosen = target ?? candidates.sort((a, b) => result.get(a)!.length - result.get(b)!.length || a.localeCompare(b))[0]!;
    const previous = owner.get(key);
    taken.add(key);
    if (previous !== undefined && previous !== chosen && members.has(previous)) continue;
    result.get(chosen)!.push(tp);
  }
  return result;
}

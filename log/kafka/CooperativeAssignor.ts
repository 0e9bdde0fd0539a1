import { Reader, Writer } from '@platformatic/kafka';
import type { TopicPartition } from '../Log.js';
import { assignPartitionNumbers } from '../TaskAssignor.js';

/**
 * The consumer-group protocol data of a classic group ("consumer" protocol type), in Kafka's own
 * encodings (ConsumerProtocolSubscription v1, ConsumerProtocolAssignment v0) so the group reads
 * normally in Kafka's tools, and the leader-side cooperative sticky assignor.
 *
 * Cooperative (incremental) rebalancing, as Kafka's CooperativeStickyAssignor does it: members
 * keep what they own; a partition number that must move is first only taken from its owner (the
 * owner revokes it and rejoins at once), and handed to its new owner in the next round. No member
 * ever gives up partitions it keeps, so only moved partitions pause. Unlike Kafka's assignor it
 * keeps the same partition number of every subscribed topic on one member (a Kafka Streams task
 * reads co-partitioned topics), see log/TaskAssignor.ts.
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
 * topic → partition count. Returns memberId → partitions to own in this generation. Assigns
 * partition NUMBERS across the subscribed topics (co-partitioned tasks stay on one member),
 * balanced, sticky and cooperative: see log/TaskAssignor.ts, which the embedded log uses too.
 */
export function assignCooperative(members: Map<string, Subscription>, partitionCounts: Map<string, number>): Map<string, TopicPartition[]> {
  return assignPartitionNumbers(members, partitionCounts);
}

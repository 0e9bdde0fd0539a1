import path from 'node:path';
import type { AppConfig } from '../../app/AppConfig.js';
import type { Env } from '../../config/index.js';
import { LogDatabase, type WriteOp } from '../../log/embedded/LogDatabase.js';
import {
  COMMITTED_PREFIX,
  committedOffsetKey,
  encodeOffsetValue,
  END_OFFSET,
  FORMAT_KEY,
  FORMAT_VERSION,
  LOG_START_OFFSET,
  partitionStateKey,
  recordKey,
  TOPIC_RANGE,
  topicKey,
} from '../../log/embedded/KeyLayout.js';
import type { TopicPartitionOffset } from '../../log/Log.js';
import { CliError } from './cli-support.js';

/**
 * What `streamline reprocess` changes in the log, with the service stopped: Kafka Streams'
 * application reset tool does the same through the Kafka admin API (delete internal topics,
 * move a group's committed offsets). The Log interface has neither operation (the service never
 * needs them), so each mode gets its own small admin here.
 */
export interface LogAdmin {
  /** Members of the group now (Kafka); a running service would have some. Embedded: 0 (its lock already proved none). */
  activeMembers(groupId: string): Promise<number>;
  /** Drops every committed offset of the group, then commits these. */
  replaceCommitted(groupId: string, offsets: TopicPartitionOffset[]): Promise<void>;
  /** Moves the group's committed offsets of these partitions, leaving its other offsets alone. */
  commit(groupId: string, offsets: TopicPartitionOffset[]): Promise<void>;
  /** Deletes the topics with their records and every group's offsets on them. */
  deleteTopics(topics: string[]): Promise<void>;
  close(): Promise<void>;
}

interface StoredTopic {
  name: string;
  id: number;
  partitions: number;
}

/**
 * The embedded log's RocksDB, opened directly (the caller closed its EmbeddedLog first): its key
 * layout is log/embedded/KeyLayout.ts, format version 2; any other version is refused rather than
 * edited blind.
 */
export class EmbeddedLogAdmin implements LogAdmin {
  private constructor(private readonly db: LogDatabase) {}

  static async open(config: AppConfig): Promise<EmbeddedLogAdmin> {
    const db = await LogDatabase.open(path.join(config.dataDir, 'log'));
    const [format] = db.getMany([FORMAT_KEY]);
    if (format && format.toString() !== FORMAT_VERSION) {
      await db.close();
      throw new CliError(`the embedded log is in format ${format.toString()}; this streamline edits format ${FORMAT_VERSION} only`);
    }
    return new EmbeddedLogAdmin(db);
  }

  private topics(): Map<string, StoredTopic> {
    const topics = new Map<string, StoredTopic>();
    for (const [key, value] of this.db.scan(TOPIC_RANGE)) {
      const name = key.toString('utf8', 1);
      const meta = JSON.parse(value.toString('utf8')) as { id: number; partitions: number };
      topics.set(name, { name, id: meta.id, partitions: meta.partitions });
    }
    return topics;
  }

  /** Every committed-offset key, with its group and topic id (0x04 | u16 len | group | topicId | partition). */
  private committedKeys(): Array<{ key: Buffer; group: string; topicId: number }> {
    const rows = this.db.scan({ gte: Buffer.from([COMMITTED_PREFIX]), lt: Buffer.from([COMMITTED_PREFIX + 1]) });
    return rows.map(([key]) => {
      const length = key.readUInt16BE(1);
      return { key, group: key.toString('utf8', 3, 3 + length), topicId: key.readUInt32BE(3 + length) };
    });
  }

  async activeMembers(): Promise<number> {
    return 0;
  }

  async replaceCommitted(groupId: string, offsets: TopicPartitionOffset[]): Promise<void> {
    const ops: WriteOp[] = this.committedKeys()
      .filter((entry) => entry.group === groupId)
      .map((entry) => ({ type: 'del', key: entry.key }));
    ops.push(...this.commitOps(groupId, offsets));
    this.db.write(ops, true);
  }

  async commit(groupId: string, offsets: TopicPartitionOffset[]): Promise<void> {
    this.db.write(this.commitOps(groupId, offsets), true);
  }

  private commitOps(groupId: string, offsets: TopicPartitionOffset[]): WriteOp[] {
    const topics = this.topics();
    return offsets.map(({ topic, partition, offset }) => {
      const stored = topics.get(topic);
      if (!stored) throw new CliError(`no topic ${topic} in the embedded log`);
      return { type: 'put', key: committedOffsetKey(groupId, stored.id, partition), value: encodeOffsetValue(offset) };
    });
  }

  async deleteTopics(names: string[]): Promise<void> {
    const topics = this.topics();
    const doomed = names.map((name) => topics.get(name)).filter((topic) => topic !== undefined);
    if (doomed.length === 0) return;
    const ids = new Set(doomed.map((topic) => topic.id));
    const ops: WriteOp[] = [];
    for (const topic of doomed) {
      ops.push({ type: 'del', key: topicKey(topic.name) });
      for (let partition = 0; partition < topic.partitions; partition++) {
        ops.push({ type: 'del', key: partitionStateKey(topic.id, partition, END_OFFSET) });
        ops.push({ type: 'del', key: partitionStateKey(topic.id, partition, LOG_START_OFFSET) });
      }
      // Record batches: one contiguous key range per topic id (topicId u32 | partition u32 | offset).
      const cursor = this.db.cursor({ gte: recordKey(topic.id, 0, 0), lt: recordKey(topic.id + 1, 0, 0) });
      try {
        for (;;) {
          const { rows, finished } = cursor.next(1000);
          for (const [key] of rows) ops.push({ type: 'del', key });
          if (finished) break;
        }
      } finally {
        cursor.close();
      }
    }
    for (const entry of this.committedKeys()) if (ids.has(entry.topicId)) ops.push({ type: 'del', key: entry.key });
    // One write: a crash leaves the topics either whole or gone.
    this.db.write(ops, true);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** Kafka through the admin API, with the log's own connection settings (brokers, TLS, SASL). */
export class KafkaLogAdmin implements LogAdmin {
  private constructor(private readonly admin: import('@platformatic/kafka').Admin) {}

  static async open(env: Env): Promise<KafkaLogAdmin> {
    const { readKafkaConfig } = await import('../../log/kafka/KafkaConfig.js');
    const { Admin } = await import('@platformatic/kafka');
    const kafka = readKafkaConfig(env);
    if (!kafka) throw new CliError('KAFKA_BROKERS is not set');
    return new KafkaLogAdmin(new Admin({ ...(kafka.security?.client ?? {}), clientId: `${kafka.clientId}-reprocess`, bootstrapBrokers: kafka.brokers }));
  }

  async activeMembers(groupId: string): Promise<number> {
    const groups = await this.admin.describeGroups({ groups: [groupId] });
    return groups.get(groupId)?.members.size ?? 0;
  }

  async replaceCommitted(groupId: string, offsets: TopicPartitionOffset[]): Promise<void> {
    const existing = (await this.admin.listGroups()).has(groupId);
    if (existing) await this.admin.deleteGroups({ groups: [groupId] });
    await this.commit(groupId, offsets);
  }

  async commit(groupId: string, offsets: TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    const byTopic = new Map<string, Array<{ partition: number; offset: bigint }>>();
    for (const { topic, partition, offset } of offsets) {
      const list = byTopic.get(topic) ?? [];
      list.push({ partition, offset: BigInt(offset) });
      byTopic.set(topic, list);
    }
    await this.admin.alterConsumerGroupOffsets({ groupId, topics: [...byTopic].map(([name, partitionOffsets]) => ({ name, partitionOffsets })) });
  }

  async deleteTopics(topics: string[]): Promise<void> {
    if (topics.length === 0) return;
    await this.admin.deleteTopics({ topics });
    // Deletion is asynchronous on the broker: the next start recreates these topics, which fails
    // while they are still marked for deletion.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const left = new Set(await this.admin.listTopics());
      if (!topics.some((topic) => left.has(topic))) return;
      if (Date.now() > deadline) throw new CliError(`Kafka still lists ${topics.filter((t) => left.has(t)).join(', ')} a minute after deleting them`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async close(): Promise<void> {
    await this.admin.close();
  }
}

import type { Admin } from '@platformatic/kafka';
import { UnknownTopicError, type TopicConfig } from '../Log.js';
import { explainKafkaError, hasKafkaError } from './KafkaRecords.js';
import { explainSecurityFailure, type KafkaSecurity } from './KafkaSecurity.js';

export interface KafkaTopicsSettings {
  brokers: string[];
  requestTimeoutMs: number;
  security?: KafkaSecurity;
}

/** Topic administration of the Kafka log: create, wait for leaders, count partitions, list. */
export class KafkaTopics {
  private readonly partitionCounts = new Map<string, number>();

  constructor(
    private readonly admin: Admin,
    private readonly settings: KafkaTopicsSettings,
  ) {}

  async ensureTopic(topic: string, config: TopicConfig): Promise<void> {
    const configs: { name: string; value: string }[] = [];
    if (config.cleanupPolicy) configs.push({ name: 'cleanup.policy', value: config.cleanupPolicy });
    if (config.retentionMs !== undefined) configs.push({ name: 'retention.ms', value: String(config.retentionMs) });
    if (config.retentionBytes !== undefined) configs.push({ name: 'retention.bytes', value: String(config.retentionBytes) });
    try {
      await this.admin.createTopics({ topics: [topic], partitions: config.partitions, replicas: -1, configs });
    } catch (error) {
      if (!hasKafkaError(error, 'TOPIC_ALREADY_EXISTS')) throw explainSecurityFailure(error, this.settings.security, this.settings.brokers) ?? explainKafkaError(`creating topic ${topic} failed`, error);
    }
    await this.awaitTopicReady(topic);
  }

  /**
   * The controller answers CreateTopics before every broker's metadata has the topic and its
   * leaders; wait for that (as Kafka Streams does) so the next produce or fetch finds it.
   */
  private async awaitTopicReady(topic: string): Promise<void> {
    const deadline = Date.now() + this.settings.requestTimeoutMs;
    for (;;) {
      try {
        const metadata = await this.admin.metadata({ topics: [topic], forceUpdate: true });
        const info = metadata.topics.get(topic);
        if (info && info.partitionsCount > 0 && info.partitions.every((p) => p && p.leader >= 0)) return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline) throw new Error(`topic ${topic} was created but has no leaders after ${this.settings.requestTimeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async partitionCount(topic: string): Promise<number> {
    const cached = this.partitionCounts.get(topic);
    if (cached !== undefined) return cached;
    let count: number | undefined;
    try {
      const metadata = await this.admin.metadata({ topics: [topic], forceUpdate: true });
      count = metadata.topics.get(topic)?.partitionsCount;
    } catch (error) {
      // The client reports a topic missing from metadata as a UserError "Unknown topic <name>."
      const unknown = hasKafkaError(error, 'UNKNOWN_TOPIC_OR_PARTITION') || hasKafkaError(error, 'UNKNOWN_TOPIC_ID') || /^Unknown topic /.test((error as Error).message);
      if (unknown) throw new UnknownTopicError(topic);
      throw error;
    }
    if (!count) throw new UnknownTopicError(topic);
    // Partition counts only grow (and we never add partitions), so the cache stays right.
    this.partitionCounts.set(topic, count);
    return count;
  }

  async listTopics(): Promise<string[]> {
    return (await this.admin.listTopics({ includeInternals: false })).sort();
  }
}

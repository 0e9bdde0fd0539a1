import { Admin, compressionsAlgorithms, Consumer } from '@platformatic/kafka';
import { ConfigError } from '../../config/index.js';
import type {
  ConsumerOptions,
  Log,
  LogConsumer,
  LogRecord,
  ProducerRecord,
  RecordMetadata,
  TopicConfig,
  TopicPartition,
  TransactionalProducer,
} from '../Log.js';
import type { KafkaLogOptions } from './KafkaConfig.js';
import { withDeadline } from './KafkaRecords.js';
import { guardKafkaConnections } from './ConnectionErrors.js';
import { KafkaConsumer, type KafkaConsumerSettings } from './KafkaConsumer.js';
import { resolveKafkaLogOptions, type ResolvedKafkaLogOptions } from './KafkaLogOptions.js';
import { KafkaLogMetrics } from './KafkaLogMetrics.js';
import { committedGroupOffsets } from './KafkaOffsets.js';
import { KafkaPartitioner, type KafkaMessage } from './KafkaPartitioner.js';
import { KafkaPartitionReader } from './KafkaPartitionReader.js';
import { KafkaPlainProducer } from './KafkaPlainProducer.js';
import { KafkaTopics } from './KafkaTopics.js';
import { KafkaTransactionalProducer } from './KafkaTransactionalProducer.js';
import type { KafkaClientSecurity } from './KafkaSecurity.js';
import { verifyKafkaSecurity } from './KafkaSecurityCheck.js';

const READ_COMMITTED = 1;

/**
 * The log on Apache Kafka (through @platformatic/kafka), composed of one admin client for topics
 * and group offsets (KafkaTopics), one reader client for direct reads (KafkaPartitionReader), the
 * plain producer (KafkaPlainProducer) and the consumers and transactional producers it creates.
 * Every record's partition is chosen here (KafkaPartitioner), for plain and transactional produce.
 */
export class KafkaLog implements Log {
  readonly kind = 'kafka' as const;
  private readonly options: ResolvedKafkaLogOptions;
  private readonly admin: Admin;
  private readonly reader: Consumer;
  private readonly topics: KafkaTopics;
  private readonly partitioner: KafkaPartitioner;
  private readonly partitionReader: KafkaPartitionReader;
  private readonly producer: KafkaPlainProducer;
  private readonly consumers = new Set<KafkaConsumer>();
  private readonly transactional = new Set<KafkaTransactionalProducer>();
  private readonly metrics: KafkaLogMetrics | undefined;
  private readonly unguard: () => void;

  constructor(options: KafkaLogOptions) {
    this.options = resolveKafkaLogOptions(options);
    this.metrics = options.registry ? new KafkaLogMetrics(options.registry) : undefined;
    // Before any client exists: no connection of this log may emit an unheard 'error'.
    this.unguard = guardKafkaConnections({ logger: options.logger, registry: options.registry });
    const compression = this.options.compression;
    const codec = compressionsAlgorithms[compression];
    if (!codec || !codec.available) {
      throw new ConfigError(
        `KAFKA_COMPRESSION_TYPE=${compression} is not supported by the Kafka client on Node ${process.versions.node}` +
          (compression === 'zstd' ? ' (zstd needs node:zlib zstd support, Node ≥ 22.15)' : '') +
          '; use none, gzip, snappy or lz4',
      );
    }
    const base = {
      ...this.clientSecurity(),
      bootstrapBrokers: this.options.brokers,
      connectTimeout: this.options.connectTimeoutMs,
      timeout: this.options.requestTimeoutMs,
      retries: this.options.retries,
      retryDelay: this.options.retryBackoffMs,
    };
    this.admin = new Admin({ ...base, clientId: `${this.options.clientId}-admin` });
    this.reader = new Consumer({ ...base, clientId: `${this.options.clientId}-reader`, groupId: `${this.options.clientId}-reader`, autocommit: false, isolationLevel: READ_COMMITTED });
    this.topics = new KafkaTopics(this.admin, this.options);
    const partitionCount = (topic: string) => this.topics.partitionCount(topic);
    this.partitioner = new KafkaPartitioner(partitionCount);
    this.partitionReader = new KafkaPartitionReader(this.reader, partitionCount);
    this.producer = new KafkaPlainProducer({
      ...this.options,
      clientSecurity: this.clientSecurity(),
      metrics: this.metrics,
      toMessages: (records) => this.toMessages(records),
    });
  }

  ensureTopic(topic: string, config: TopicConfig): Promise<void> {
    return this.topics.ensureTopic(topic, config);
  }

  partitionCount(topic: string): Promise<number> {
    return this.topics.partitionCount(topic);
  }

  listTopics(): Promise<string[]> {
    return this.topics.listTopics();
  }

  /** Records as the client sends them, each with its partition decided here. */
  toMessages(records: ProducerRecord[]): Promise<KafkaMessage[]> {
    return this.partitioner.toMessages(records);
  }

  produce(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    return this.producer.produce(records);
  }

  beginningOffset(tp: TopicPartition): Promise<number> {
    return this.partitionReader.beginningOffset(tp);
  }

  /** Under read_committed this is the last stable offset: open transactions are not counted. */
  endOffset(tp: TopicPartition): Promise<number> {
    return this.partitionReader.endOffset(tp);
  }

  beginningOffsets(partitions: TopicPartition[]): Promise<Map<string, number>> {
    return this.partitionReader.beginningOffsets(partitions);
  }

  /** Last stable offsets, as endOffset. */
  endOffsets(partitions: TopicPartition[]): Promise<Map<string, number>> {
    return this.partitionReader.endOffsets(partitions);
  }

  read(tp: TopicPartition, fromOffset: number, maxRecords: number): Promise<LogRecord[]> {
    return this.partitionReader.read(tp, fromOffset, maxRecords);
  }

  committedOffsets(groupId: string, partitions: TopicPartition[]): Promise<Map<string, number>> {
    return committedGroupOffsets(this.admin, groupId, partitions);
  }

  private consumerSettings(): KafkaConsumerSettings {
    return {
      clientId: this.options.clientId,
      brokers: this.options.brokers,
      admin: this.admin,
      connectTimeoutMs: this.options.connectTimeoutMs,
      requestTimeoutMs: this.options.requestTimeoutMs,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      rebalanceTimeoutMs: Math.max(this.options.sessionTimeoutMs, 30_000),
      retries: this.options.retries,
      retryBackoffMs: this.options.retryBackoffMs,
      logger: this.options.logger,
      metrics: this.metrics,
      security: this.clientSecurity(),
    };
  }

  createConsumer(options: ConsumerOptions): LogConsumer {
    const consumer = new KafkaConsumer(this.consumerSettings(), options);
    this.consumers.add(consumer);
    const close = consumer.close.bind(consumer);
    consumer.close = async () => {
      this.consumers.delete(consumer);
      await close();
    };
    return consumer;
  }

  async createTransactionalProducer(transactionalId: string): Promise<TransactionalProducer> {
    const producer = new KafkaTransactionalProducer(transactionalId, {
      clientId: this.options.clientId,
      brokers: this.options.brokers,
      compression: this.options.compression,
      connectTimeoutMs: this.options.connectTimeoutMs,
      transactionTimeoutMs: this.options.transactionTimeoutMs,
      retries: this.options.retries,
      retryBackoffMs: this.options.retryBackoffMs,
      security: this.clientSecurity(),
      toMessages: (records) => this.toMessages(records),
      metrics: this.metrics,
    });
    this.transactional.add(producer);
    const close = producer.close.bind(producer);
    producer.close = async () => {
      this.transactional.delete(producer);
      await close();
    };
    return producer;
  }

  /** A metadata request on a fresh connection, bounded by healthTimeoutMs. */
  async isHealthy(): Promise<boolean> {
    const probe = new Admin({
      ...this.clientSecurity(),
      clientId: `${this.options.clientId}-health`,
      bootstrapBrokers: this.options.brokers,
      connectTimeout: this.options.healthTimeoutMs,
      timeout: this.options.healthTimeoutMs,
      retries: 0,
    });
    try {
      const metadata = await withDeadline(probe.metadata({ topics: [], forceUpdate: true }), this.options.healthTimeoutMs + 200, 'Kafka health check');
      return metadata.brokers.size > 0;
    } catch {
      return false;
    } finally {
      void Promise.resolve(probe.close() as Promise<void> | undefined).catch(() => undefined);
    }
  }

  /** TLS / SASL options every client of this log is built with (empty on PLAINTEXT). */
  private clientSecurity(): KafkaClientSecurity {
    return this.options.security?.client ?? {};
  }

  /** The start-up TLS / SASL check (KafkaSecurityCheck.ts); nothing to do on PLAINTEXT. */
  verifySecurity(): Promise<void> {
    return verifyKafkaSecurity(this.options);
  }

  async close(): Promise<void> {
    for (const consumer of [...this.consumers]) await consumer.close().catch(() => undefined);
    for (const producer of [...this.transactional]) await producer.close().catch(() => undefined);
    await this.producer.close();
    await this.reader.close().catch(() => undefined);
    await this.admin.close().catch(() => undefined);
    this.unguard();
  }
}

/**
 * Opens the Kafka log; fails at once on an unsupported compression codec, and with TLS/SASL
 * configured, on credentials or certificates the broker refuses (verifySecurity).
 */
export async function openKafkaLog(options: KafkaLogOptions): Promise<KafkaLog> {
  const log = new KafkaLog(options);
  try {
    await log.verifySecurity();
  } catch (error) {
    await log.close();
    throw error;
  }
  return log;
}

import { Admin, compressionsAlgorithms, Connection, Consumer, metadataV12, Producer, ProduceAcks } from '@platformatic/kafka';
import { ConfigError } from '../../app/env.js';
import {
  partitionKey,
  UnknownTopicError,
  type ConsumerOptions,
  type Log,
  type LogConsumer,
  type LogRecord,
  type ProducerRecord,
  type RecordMetadata,
  type TopicConfig,
  type TopicPartition,
  type TransactionalProducer,
} from '../Log.js';
import { partitionForKey } from '../murmur2.js';
import type { KafkaLogOptions } from './kafka-config.js';
import { closeForcefully, decodeFetchedPartition, explainKafkaError, hasKafkaError, headersToKafka, splitForSend, withDeadline } from './kafka-records.js';
import { guardConnection, guardKafkaConnections } from './connection-errors.js';
import { KafkaConsumer, type KafkaConsumerSettings } from './KafkaConsumer.js';
import { KafkaLogMetrics } from './KafkaLogMetrics.js';
import { committedGroupOffsets, EARLIEST, LATEST, listPartitionOffsets } from './kafka-offsets.js';
import { KafkaTransactionalProducer, recordMetadata } from './KafkaTransactionalProducer.js';
import { explainSecurityFailure, type KafkaClientSecurity } from './kafka-security.js';

const READ_COMMITTED = 1;
const READ_AHEAD_PARTITIONS = 8;
/** Answers after which the plain idempotent producer is replaced (see sendPlain). */
const PRODUCER_STATE_LOST = ['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING'];

type Resolved = Required<Omit<KafkaLogOptions, 'logger' | 'registry' | 'security'>> & Pick<KafkaLogOptions, 'logger' | 'registry' | 'security'>;

function resolve(options: KafkaLogOptions): Resolved {
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
  return {
    brokers: options.brokers,
    clientId: options.clientId,
    compression: options.compression ?? 'none',
    acks: options.acks ?? 'all',
    retries: options.retries ?? 5,
    retryBackoffMs: options.retryBackoffMs ?? 250,
    produceTimeoutMs: options.produceTimeoutMs ?? 30_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 3_000,
    sessionTimeoutMs,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? Math.max(100, Math.min(1000, Math.floor(sessionTimeoutMs / 3))),
    transactionTimeoutMs: options.transactionTimeoutMs ?? 10_000,
    healthTimeoutMs: options.healthTimeoutMs ?? 1_000,
    logger: options.logger,
    registry: options.registry,
    security: options.security,
  };
}

/**
 * The log on Apache Kafka (through @platformatic/kafka). Partitions of keyed records are chosen
 * here with murmur2 (log/murmur2.ts) and passed explicitly, so a key lands on the same partition
 * number as in the embedded log and as with Kafka's Java clients. Plain produce is idempotent
 * with acks=all unless KAFKA_ACKS says otherwise.
 */
export class KafkaLog implements Log {
  readonly kind = 'kafka' as const;
  private readonly options: Resolved;
  private readonly admin: Admin;
  private readonly reader: Consumer;
  private producer: Producer | undefined;
  private readonly roundRobin = new Map<string, number>();
  private readonly partitionCounts = new Map<string, number>();
  private readonly consumers = new Set<KafkaConsumer>();
  private readonly transactional = new Set<KafkaTransactionalProducer>();
  private readonly produceQueue: { records: ProducerRecord[]; resolve: (metadata: RecordMetadata[]) => void; reject: (error: unknown) => void }[] = [];
  private producing = false;
  /** Records fetched by read() beyond what it returned, for the read that continues there. */
  private readonly readAhead = new Map<string, { from: number; records: LogRecord[]; nextOffset: number }>();

  private readonly metrics: KafkaLogMetrics | undefined;
  private readonly unguard: () => void;

  constructor(options: KafkaLogOptions) {
    this.options = resolve(options);
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
  }

  async ensureTopic(topic: string, config: TopicConfig): Promise<void> {
    const configs: { name: string; value: string }[] = [];
    if (config.cleanupPolicy) configs.push({ name: 'cleanup.policy', value: config.cleanupPolicy });
    if (config.retentionMs !== undefined) configs.push({ name: 'retention.ms', value: String(config.retentionMs) });
    if (config.retentionBytes !== undefined) configs.push({ name: 'retention.bytes', value: String(config.retentionBytes) });
    try {
      await this.admin.createTopics({ topics: [topic], partitions: config.partitions, replicas: -1, configs });
    } catch (error) {
      if (!hasKafkaError(error, 'TOPIC_ALREADY_EXISTS')) throw explainSecurityFailure(error, this.options.security, this.options.brokers) ?? explainKafkaError(`creating topic ${topic} failed`, error);
    }
    await this.awaitTopicReady(topic);
  }

  /**
   * The controller answers CreateTopics before every broker's metadata has the topic and its
   * leaders; wait for that (as Kafka Streams does) so the next produce or fetch finds it.
   */
  private async awaitTopicReady(topic: string): Promise<void> {
    const deadline = Date.now() + this.options.requestTimeoutMs;
    for (;;) {
      try {
        const metadata = await this.admin.metadata({ topics: [topic], forceUpdate: true });
        const info = metadata.topics.get(topic);
        if (info && info.partitionsCount > 0 && info.partitions.every((p) => p && p.leader >= 0)) return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline) throw new Error(`topic ${topic} was created but has no leaders after ${this.options.requestTimeoutMs} ms`);
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

  /** Records as the client sends them, each with its partition decided here. */
  async toMessages(records: ProducerRecord[]) {
    const out = [];
    for (const record of records) {
      let partition = record.partition;
      if (partition === undefined) {
        const count = await this.partitionCount(record.topic);
        if (record.key) partition = partitionForKey(record.key, count);
        else {
          const next = this.roundRobin.get(record.topic) ?? 0;
          this.roundRobin.set(record.topic, next + 1);
          partition = next % count;
        }
      }
      out.push({
        topic: record.topic,
        partition,
        key: record.key ?? undefined,
        value: record.value ?? undefined,
        headers: headersToKafka(record.headers),
        timestamp: BigInt(record.timestamp ?? Date.now()),
      });
    }
    return out;
  }

  private acks(): number {
    return this.options.acks === 'all' ? ProduceAcks.ALL : this.options.acks === '1' ? ProduceAcks.LEADER : ProduceAcks.NO_RESPONSE;
  }

  private plainProducer(): Producer {
    if (!this.producer) {
      const acks = this.acks();
      this.producer = new Producer({
        ...this.clientSecurity(),
        clientId: `${this.options.clientId}-producer`,
        bootstrapBrokers: this.options.brokers,
        idempotent: this.options.acks === 'all',
        acks,
        compression: this.options.compression,
        connectTimeout: this.options.connectTimeoutMs,
        timeout: this.options.requestTimeoutMs,
        // An idempotent client would otherwise retry forever; bounded retries keep produce bounded.
        retries: Math.max(2, this.options.retries),
        retryDelay: this.options.retryBackoffMs,
      });
    }
    return this.producer;
  }

  /**
   * Concurrent produce calls are coalesced into one send at a time: the client numbers idempotent
   * batches per partition when it sends and advances the sequence only on the answer, so two sends
   * in flight at once get the same sequence and the broker drops the second as a duplicate.
   * Coalescing keeps one request in flight and still batches the waiting callers together.
   */
  produce(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    if (records.length === 0) return Promise.resolve([]);
    const queued = new Promise<RecordMetadata[]>((resolve, reject) => {
      this.produceQueue.push({ records, resolve, reject });
    });
    void this.drainProduceQueue();
    return withDeadline(queued, this.options.produceTimeoutMs, `produce of ${records.length} record(s) to Kafka`);
  }

  /**
   * One send on the plain producer. A broker that was SIGKILLed comes back with producer state
   * that no longer matches the client's sequence numbers (OUT_OF_ORDER_SEQUENCE_NUMBER) or has
   * forgotten the producer id; every later send of that producer would be refused the same way
   * (and the ingress would dead-letter records a healthy log "refused"). A fresh producer (new
   * producer id) sends the chunk again. A chunk that the dead broker had written before the
   * answer was lost is then written twice: the topology's dedupe drops the copy by event id.
   */
  private async sendPlain(chunk: Awaited<ReturnType<KafkaLog['toMessages']>>) {
    // acks per send: the client ignores the constructor's acks for a non-idempotent producer.
    try {
      return await this.plainProducer().send({ messages: chunk, acks: this.acks() });
    } catch (error) {
      if (!PRODUCER_STATE_LOST.some((id) => hasKafkaError(error, id))) throw error;
      this.options.logger?.warn({ errors: PRODUCER_STATE_LOST.filter((id) => hasKafkaError(error, id)) }, 'kafka producer state lost (broker restarted): sending again with a new producer id');
      this.metrics?.producerReset();
      const stale = this.producer;
      this.producer = undefined;
      if (stale) void closeForcefully(stale).catch(() => undefined);
      return await this.plainProducer().send({ messages: chunk, acks: this.acks() });
    }
  }

  private async drainProduceQueue(): Promise<void> {
    if (this.producing) return;
    this.producing = true;
    try {
      while (this.produceQueue.length > 0) {
        const waiting = this.produceQueue.splice(0, this.produceQueue.length);
        try {
          const messages = await this.toMessages(waiting.flatMap((entry) => entry.records));
          const metadata: RecordMetadata[] = [];
          for (const chunk of splitForSend(messages)) {
            const result = await this.sendPlain(chunk);
            metadata.push(...recordMetadata(chunk, result.offsets ?? []));
            this.metrics?.produced(chunk.length);
          }
          let at = 0;
          for (const entry of waiting) {
            entry.resolve(metadata.slice(at, at + entry.records.length));
            at += entry.records.length;
          }
        } catch (error) {
          this.metrics?.produceFailed();
          const explained = explainSecurityFailure(error, this.options.security, this.options.brokers) ?? explainKafkaError('produce to Kafka failed', error);
          for (const entry of waiting) entry.reject(explained);
        }
      }
    } finally {
      this.producing = false;
    }
  }

  private async listOffset(tp: TopicPartition, timestamp: bigint): Promise<number> {
    await this.partitionCount(tp.topic);
    const value = (await listPartitionOffsets(this.reader, [tp], timestamp)).get(partitionKey(tp));
    if (value === undefined) throw new Error(`no offset for ${partitionKey(tp)}`);
    return value;
  }

  beginningOffset(tp: TopicPartition): Promise<number> {
    return this.listOffset(tp, EARLIEST);
  }

  /** Under read_committed this is the last stable offset: open transactions are not counted. */
  endOffset(tp: TopicPartition): Promise<number> {
    return this.listOffset(tp, LATEST);
  }

  /**
   * Direct Fetch (read_committed, so never past the last stable offset). One fetch brings up to
   * 4 MiB; what is not returned is kept for the next read that continues from there, so a
   * restore that reads a partition front to back costs one round trip per 4 MiB.
   */
  async read(tp: TopicPartition, fromOffset: number, maxRecords: number): Promise<LogRecord[]> {
    const key = partitionKey(tp);
    const out: LogRecord[] = [];
    let position = fromOffset;
    const ahead = this.readAhead.get(key);
    this.readAhead.delete(key);
    if (ahead && ahead.from === fromOffset && maxRecords > 0) {
      const served = ahead.records.splice(0, maxRecords);
      out.push(...served);
      if (ahead.records.length > 0) {
        // Keyed by where the caller continues: right after the last record it got (any offsets
        // in between are transaction markers or aborted records).
        this.readAhead.set(key, { from: served[served.length - 1]!.offset + 1, records: ahead.records, nextOffset: ahead.nextOffset });
        return out;
      }
      position = ahead.nextOffset;
    }
    while (out.length < maxRecords) {
      const metadata = await this.reader.metadata({ topics: [tp.topic] });
      const info = metadata.topics.get(tp.topic);
      const leader = info?.partitions[tp.partition]?.leader;
      if (!info || leader === undefined) throw new UnknownTopicError(tp.topic);
      const response = await this.reader.fetch({
        node: leader,
        maxWaitTime: 0,
        minBytes: 1,
        maxBytes: 8 * 1024 * 1024,
        isolationLevel: READ_COMMITTED,
        topics: [{ topicId: info.id, partitions: [{ partition: tp.partition, fetchOffset: BigInt(position), partitionMaxBytes: 4 * 1024 * 1024, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
      });
      const partitionResponse = response.responses[0]?.partitions.find((p) => p.partitionIndex === tp.partition);
      if (!partitionResponse) break;
      if (partitionResponse.errorCode !== 0) throw new Error(`fetch of ${key} at ${position} failed with Kafka error code ${partitionResponse.errorCode}`);
      const { records, nextOffset } = decodeFetchedPartition(tp.topic, partitionResponse, position);
      const room = maxRecords - out.length;
      out.push(...records.slice(0, room));
      if (records.length > room) {
        const rest = records.slice(room);
        this.readAhead.set(key, { from: out[out.length - 1]!.offset + 1, records: rest, nextOffset });
        // Bounded: a few partitions read in turn (up to 4 MiB each); the oldest is dropped.
        if (this.readAhead.size > READ_AHEAD_PARTITIONS) this.readAhead.delete(this.readAhead.keys().next().value!);
        break;
      }
      if (nextOffset <= position) break;
      position = nextOffset;
    }
    return out;
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

  /**
   * With TLS or SASL configured, one metadata request at open: a wrong password, a mechanism the
   * listener does not offer or a certificate the CA does not vouch for fails the start with a
   * ConfigError naming the setting, instead of every later request retrying (and the service
   * looking like it waits for a broker). A broker that is merely unreachable is not an error here
   * (the log copes with that as on PLAINTEXT).
   */
  async verifySecurity(): Promise<void> {
    const security = this.options.security;
    if (!security) return;
    let lastError: unknown;
    for (const broker of this.options.brokers) {
      const separator = broker.lastIndexOf(':');
      // A raw connection, not a client: its socket's own error (a TLS alert such as "certificate
      // required" arrives after the handshake looked done) is kept, where a client request would
      // only say "Connection closed".
      const connection = guardConnection(
        new Connection(`${this.options.clientId}-security-check`, {
          ...this.clientSecurity(),
          connectTimeout: this.options.connectTimeoutMs,
          requestTimeout: this.options.requestTimeoutMs,
        }),
      );
      const socketErrors: Error[] = [];
      connection.on('error', (error: Error) => socketErrors.push(error));
      try {
        await withDeadline(
          (async () => {
            await connection.connect(broker.slice(0, separator), Number(broker.slice(separator + 1)));
            await metadataV12.api.async(connection, []);
          })(),
          this.options.connectTimeoutMs + this.options.requestTimeoutMs,
          'Kafka security check',
        );
        return;
      } catch (error) {
        const explained = explainSecurityFailure({ message: (error as Error).message, cause: error, errors: socketErrors }, security, this.options.brokers);
        if (explained) throw explained;
        lastError = error;
      } finally {
        await connection.close().catch(() => undefined);
      }
    }
    this.options.logger?.warn({ err: (lastError as Error | undefined)?.message, security }, 'Kafka did not answer the start-up security check; carrying on (requests retry)');
  }

  async close(): Promise<void> {
    for (const consumer of [...this.consumers]) await consumer.close().catch(() => undefined);
    for (const producer of [...this.transactional]) await producer.close().catch(() => undefined);
    if (this.producer) await closeForcefully(this.producer).catch(() => undefined);
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

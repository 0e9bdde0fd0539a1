import type {
  ConsumerOptions,
  Log,
  LogConsumer,
  LogRecord,
  ProducerRecord,
  RebalanceListener,
  RecordMetadata,
  SessionLease,
  TopicConfig,
  TopicPartition,
  TopicPartitionOffset,
  Transaction,
  TransactionalProducer,
} from '../../../log/Log.js';

/**
 * A view of a log in which every topic, consumer group and transactional id carries a prefix:
 * tests that use fixed names (events.raw, user.attempts, the application id) can share one Kafka
 * broker without seeing each other's records. The code under test sees the unprefixed names.
 *
 * The prefix is a plain string prefix, so a process that is configured with prefixed names
 * (KAFKA_TOPIC=<prefix>events.raw, APPLICATION_ID=<prefix>streamline-e2e, ...) and a test that
 * reads through this view with the same prefix see the same topics.
 */
export class NamespacedLog implements Log {
  /**
   * keepForever: topics are created with retention.ms=-1. The e2e streams are dated 2024, and a
   * real broker deletes records older than retention.ms (by their timestamps, at every
   * retention check), which would make a run lose its input at a random moment.
   */
  constructor(
    private readonly inner: Log,
    readonly prefix: string,
    private readonly options: { keepForever?: boolean } = {},
  ) {}

  get kind(): Log['kind'] {
    return this.inner.kind;
  }

  private to = (topic: string): string => this.prefix + topic;

  private from = (topic: string): string => {
    if (!topic.startsWith(this.prefix)) throw new Error(`topic ${topic} is outside the namespace ${this.prefix}`);
    return topic.slice(this.prefix.length);
  };

  private tpIn = <T extends TopicPartition>(tp: T): T => ({ ...tp, topic: this.to(tp.topic) });
  private tpOut = <T extends TopicPartition>(tp: T): T => ({ ...tp, topic: this.from(tp.topic) });
  private recordIn = (record: ProducerRecord): ProducerRecord => ({ ...record, topic: this.to(record.topic) });
  private recordOut = (record: LogRecord): LogRecord => ({ ...record, topic: this.from(record.topic) });

  ensureTopic(topic: string, config: TopicConfig): Promise<void> {
    const retention = this.options.keepForever && config.cleanupPolicy !== 'compact' ? { retentionMs: -1 } : {};
    return this.inner.ensureTopic(this.to(topic), { ...config, ...retention });
  }

  partitionCount(topic: string): Promise<number> {
    return this.inner.partitionCount(this.to(topic));
  }

  async listTopics(): Promise<string[]> {
    return (await this.inner.listTopics()).filter((topic) => topic.startsWith(this.prefix)).map(this.from);
  }

  async produce(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    return (await this.inner.produce(records.map(this.recordIn))).map(this.tpOut);
  }

  beginningOffset(tp: TopicPartition): Promise<number> {
    return this.inner.beginningOffset(this.tpIn(tp));
  }

  endOffset(tp: TopicPartition): Promise<number> {
    return this.inner.endOffset(this.tpIn(tp));
  }

  async beginningOffsets(partitions: TopicPartition[]): Promise<Map<string, number>> {
    return this.keysOut(await this.inner.beginningOffsets(partitions.map(this.tpIn)));
  }

  async endOffsets(partitions: TopicPartition[]): Promise<Map<string, number>> {
    return this.keysOut(await this.inner.endOffsets(partitions.map(this.tpIn)));
  }

  private keysOut(inner: Map<string, number>): Map<string, number> {
    const out = new Map<string, number>();
    for (const [key, offset] of inner) out.set(this.from(key), offset);
    return out;
  }

  async read(tp: TopicPartition, fromOffset: number, maxRecords: number): Promise<LogRecord[]> {
    return (await this.inner.read(this.tpIn(tp), fromOffset, maxRecords)).map(this.recordOut);
  }

  async committedOffsets(groupId: string, partitions: TopicPartition[]): Promise<Map<string, number>> {
    const inner = await this.inner.committedOffsets(this.to(groupId), partitions.map(this.tpIn));
    const out = new Map<string, number>();
    for (const [key, offset] of inner) out.set(this.from(key), offset);
    return out;
  }

  createConsumer(options: ConsumerOptions): LogConsumer {
    return new NamespacedConsumer(this.inner.createConsumer({ ...options, groupId: this.to(options.groupId) }), options.groupId, this.to, this.from);
  }

  async createTransactionalProducer(transactionalId: string): Promise<TransactionalProducer> {
    const producer = await this.inner.createTransactionalProducer(this.to(transactionalId));
    const recordIn = this.recordIn;
    const tpIn = this.tpIn;
    const tpOut = this.tpOut;
    return {
      transactionalId,
      async begin(): Promise<Transaction> {
        const transaction = await producer.begin();
        return {
          produce: (records) => transaction.produce(records.map(recordIn)),
          sendOffsets: (consumer, offsets) => transaction.sendOffsets(unwrap(consumer), offsets.map(tpIn)),
          commit: async () => (await transaction.commit()).map(tpOut),
          abort: () => transaction.abort(),
        };
      },
      close: () => producer.close(),
    };
  }

  isHealthy(): Promise<boolean> {
    return this.inner.isHealthy();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

function unwrap(consumer: LogConsumer): LogConsumer {
  return consumer instanceof NamespacedConsumer ? consumer.inner : consumer;
}

class NamespacedConsumer implements LogConsumer {
  constructor(
    readonly inner: LogConsumer,
    readonly groupId: string,
    private readonly to: (topic: string) => string,
    private readonly from: (topic: string) => string,
  ) {}

  private tpIn = <T extends TopicPartition>(tp: T): T => ({ ...tp, topic: this.to(tp.topic) });
  private tpOut = <T extends TopicPartition>(tp: T): T => ({ ...tp, topic: this.from(tp.topic) });

  subscribe(topics: string[], listener: RebalanceListener): Promise<void> {
    return this.inner.subscribe(topics.map(this.to), {
      onAssigned: (partitions) => listener.onAssigned(partitions.map(this.tpOut)),
      onRevoked: (partitions) => listener.onRevoked(partitions.map(this.tpOut)),
      onLost: listener.onLost && ((partitions) => listener.onLost!(partitions.map(this.tpOut))),
    });
  }

  async poll(maxRecords: number, timeoutMs: number): Promise<LogRecord[]> {
    return (await this.inner.poll(maxRecords, timeoutMs)).map((record) => ({ ...record, topic: this.from(record.topic) }));
  }

  seek(partition: TopicPartition, offset: number): void {
    this.inner.seek(this.tpIn(partition), offset);
  }

  pause(partitions: TopicPartition[]): void {
    this.inner.pause(partitions.map(this.tpIn));
  }

  resume(partitions: TopicPartition[]): void {
    this.inner.resume(partitions.map(this.tpIn));
  }

  assignment(): TopicPartition[] {
    return this.inner.assignment().map(this.tpOut);
  }

  position(partition: TopicPartition): number | undefined {
    return this.inner.position(this.tpIn(partition));
  }

  sessionLease(options?: { fresh?: boolean }): Promise<SessionLease> {
    return this.inner.sessionLease?.(options) ?? Promise.resolve({ remainingMs: Infinity, epoch: 0 });
  }

  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void> {
    return this.inner.commitOffsets(offsets.map(this.tpIn));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

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
} from '../../log/Log.js';

/**
 * A real log with a switch: while `down`, produce (and isHealthy) fail the way an unreachable
 * broker would; `delayMs` makes produce slow. Everything else goes to the real log.
 */
export class FaultyLog implements Log {
  down = false;
  delayMs = 0;
  /** A record the log refuses even when up (a poison record, e.g. too large for the broker). */
  poison: ((record: ProducerRecord) => boolean) | null = null;
  produceCalls = 0;
  failedCalls = 0;

  constructor(readonly inner: Log) {}

  get kind() {
    return this.inner.kind;
  }

  async produce(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    this.produceCalls++;
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.down) {
      this.failedCalls++;
      throw new Error('broker unreachable (injected fault)');
    }
    if (this.poison && records.some(this.poison)) {
      this.failedCalls++;
      throw new Error('MESSAGE_TOO_LARGE (injected poison record)');
    }
    return this.inner.produce(records);
  }

  async isHealthy(): Promise<boolean> {
    return !this.down && (await this.inner.isHealthy());
  }

  ensureTopic(topic: string, config: TopicConfig): Promise<void> {
    if (this.down) return Promise.reject(new Error('broker unreachable (injected fault)'));
    return this.inner.ensureTopic(topic, config);
  }
  partitionCount(topic: string): Promise<number> {
    return this.inner.partitionCount(topic);
  }
  listTopics(): Promise<string[]> {
    return this.inner.listTopics();
  }
  beginningOffset(partition: TopicPartition): Promise<number> {
    return this.inner.beginningOffset(partition);
  }
  endOffset(partition: TopicPartition): Promise<number> {
    return this.inner.endOffset(partition);
  }
  beginningOffsets(partitions: TopicPartition[]): Promise<Map<string, number>> {
    return this.inner.beginningOffsets(partitions);
  }
  endOffsets(partitions: TopicPartition[]): Promise<Map<string, number>> {
    return this.inner.endOffsets(partitions);
  }
  read(partition: TopicPartition, fromOffset: number, maxRecords: number): Promise<LogRecord[]> {
    return this.inner.read(partition, fromOffset, maxRecords);
  }
  committedOffsets(groupId: string, partitions: TopicPartition[]): Promise<Map<string, number>> {
    return this.inner.committedOffsets(groupId, partitions);
  }
  createConsumer(options: ConsumerOptions): LogConsumer {
    return this.inner.createConsumer(options);
  }
  createTransactionalProducer(transactionalId: string): Promise<TransactionalProducer> {
    return this.inner.createTransactionalProducer(transactionalId);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

import { Producer, ProduceAcks, type Consumer, type Message } from '@platformatic/kafka';
import type { LogConsumer, ProducerRecord, RecordMetadata, TopicPartitionOffset, Transaction, TransactionalProducer } from '../Log.js';
import { KafkaConsumer } from './KafkaConsumer.js';
import type { KafkaLogMetrics } from './KafkaLogMetrics.js';
import type { KafkaMessage } from './KafkaPartitioner.js';
import { closeForcefully, explainKafkaError, splitForSend } from './KafkaRecords.js';
import type { KafkaClientSecurity } from './KafkaSecurity.js';

export interface TransactionalSettings {
  clientId: string;
  brokers: string[];
  compression: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
  connectTimeoutMs: number;
  transactionTimeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  /** TLS / SASL options (KafkaSecurity.ts), spread into the client's. */
  security?: KafkaClientSecurity;
  metrics?: KafkaLogMetrics;
  /** Fills in partitions (murmur2 of the key) exactly as plain produce does. */
  toMessages: (records: ProducerRecord[]) => Promise<KafkaMessage[]>;
}

/**
 * Kafka transactions (EOS v2, KIP-447): one transactional id per producer; begin → produce* →
 * sendOffsets* → commit | abort. Offsets go in with the consumer's group metadata (generation and
 * member id), so a member that lost its partitions in a rebalance cannot commit them.
 * Records are sent as they are produced (in the background, in order) and offsets at commit;
 * nothing is visible to read_committed readers before the commit marker, and abort() writes an
 * abort marker over whatever was sent.
 */
export class KafkaTransactionalProducer implements TransactionalProducer {
  private producer: Producer;
  private active = false;

  constructor(
    readonly transactionalId: string,
    private readonly settings: TransactionalSettings,
  ) {
    this.producer = this.createClient();
  }

  private createClient(): Producer {
    return new Producer({
      ...this.settings.security,
      clientId: `${this.settings.clientId}-txn`,
      bootstrapBrokers: this.settings.brokers,
      transactionalId: this.transactionalId,
      // A new producer must ask InitProducerId with no id (-1/-1). The client's default (0/0)
      // reads to the broker as "bump the epoch of producer 0", which it refuses with
      // PRODUCER_FENCED whenever the transactional id was used before (e.g. after a restart).
      producerId: -1n,
      producerEpoch: -1,
      idempotent: true,
      acks: ProduceAcks.ALL,
      compression: this.settings.compression,
      connectTimeout: this.settings.connectTimeoutMs,
      // The client sends its request timeout as the transaction timeout (InitProducerId).
      timeout: this.settings.transactionTimeoutMs,
      retries: Math.max(2, this.settings.retries),
      retryDelay: this.settings.retryBackoffMs,
    });
  }

  async begin(): Promise<Transaction> {
    if (this.active) throw new Error(`transactional producer ${this.transactionalId} already has an open transaction`);
    this.active = true;
    return new KafkaTransaction(this.transactionalId, this.producer, this.settings, (failed) => {
      this.active = false;
      // A failed commit can leave the client believing a transaction is still open (seen when
      // InitProducerId failed during a broker restart: every later begin was refused with "There
      // is already an active transaction"). A fresh client re-initialises the producer id, which
      // also fences and aborts whatever the old one left open on the broker.
      if (failed) this.replaceClient();
    });
  }

  private replaceClient(): void {
    const old = this.producer;
    this.producer = this.createClient();
    void closeForcefully(old).catch(() => undefined);
  }

  async close(): Promise<void> {
    await closeForcefully(this.producer);
  }
}

type ClientTransaction = Awaited<ReturnType<Producer['beginTransaction']>>;

class KafkaTransaction implements Transaction {
  private readonly offsets: { consumer: KafkaConsumer; offsets: TopicPartitionOffset[] }[] = [];
  private readonly metadata: RecordMetadata[] = [];
  /** Sends run one after another in the background, in produce() order; errors surface at commit. */
  private sending: Promise<void> = Promise.resolve();
  private failure: unknown;
  private started: Promise<ClientTransaction> | undefined;
  private done = false;

  constructor(
    private readonly transactionalId: string,
    private readonly producer: Producer,
    private readonly settings: TransactionalSettings,
    private readonly finished: (failed: boolean) => void,
  ) {}

  private transaction(): Promise<ClientTransaction> {
    this.started ??= this.producer.beginTransaction();
    return this.started;
  }

  produce(records: ProducerRecord[]): void {
    this.assertOpen();
    if (records.length === 0) return;
    const batch = [...records];
    this.sending = this.sending.then(async () => {
      if (this.failure !== undefined) return;
      try {
        const transaction = await this.transaction();
        const messages = await this.settings.toMessages(batch);
        for (const chunk of splitForSend(messages)) {
          const result = await transaction.send({ messages: chunk });
          this.metadata.push(...recordMetadata(chunk, result.offsets ?? []));
        }
      } catch (error) {
        this.failure = error;
      }
    });
  }

  sendOffsets(consumer: LogConsumer, offsets: TopicPartitionOffset[]): void {
    this.assertOpen();
    if (!(consumer instanceof KafkaConsumer)) throw new Error('sendOffsets needs a consumer created by the same KafkaLog');
    // Sent at commit, with the consumer's group generation as of then.
    this.offsets.push({ consumer, offsets });
  }

  async commit(): Promise<RecordMetadata[]> {
    this.assertOpen();
    this.done = true;
    let failed = false;
    try {
      await this.sending;
      if (this.failure !== undefined) throw this.failure;
      const hasOffsets = this.offsets.some((entry) => entry.offsets.length > 0);
      if (!this.started && !hasOffsets) return [];
      const transaction = await this.transaction();
      for (const { consumer, offsets } of this.offsets) {
        if (offsets.length === 0) continue;
        const group = await consumer.groupMetadata();
        await transaction.addConsumer({ groupId: group.groupId } as Consumer);
        // One TxnOffsetCommit per partition; the client commits message.offset + 1.
        for (const { topic, partition, offset } of offsets) {
          await transaction.addOffset({ topic, partition, offset: BigInt(offset) - 1n, metadata: { consumer: group } } as unknown as Message);
        }
      }
      await transaction.commit();
      this.settings.metrics?.transaction('committed');
      return this.metadata;
    } catch (error) {
      this.settings.metrics?.transaction('failed');
      failed = true;
      await this.abortStarted();
      throw explainKafkaError(`commit of a transaction of ${this.transactionalId} failed`, error);
    } finally {
      this.finished(failed);
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await this.sending;
      await this.abortStarted();
      this.settings.metrics?.transaction('aborted');
    } finally {
      this.finished(false);
    }
  }

  /** EndTxn(abort) when anything reached the broker; the records stay invisible to read_committed. */
  private async abortStarted(): Promise<void> {
    if (!this.started) return;
    const transaction = await this.started.catch(() => undefined);
    if (!transaction || transaction.completed) return;
    await transaction.abort().catch(async () => {
      // Broker gone or producer fenced: forget it locally; the broker aborts it on timeout.
      await transaction.cancel().catch(() => undefined);
    });
  }

  private assertOpen(): void {
    if (this.done) throw new Error('transaction already committed or aborted');
  }
}

/** Offsets of each record: the partition's base offset plus its place among that partition's records (-1 when unknown). */
export function recordMetadata(messages: { topic: string; partition: number }[], bases: { topic: string; partition: number; offset: bigint }[]): RecordMetadata[] {
  const base = new Map(bases.map((b) => [`${b.topic}:${b.partition}`, Number(b.offset)]));
  const seen = new Map<string, number>();
  return messages.map(({ topic, partition }) => {
    const key = `${topic}:${partition}`;
    const index = seen.get(key) ?? 0;
    seen.set(key, index + 1);
    // acks=0 gets no answer, hence no offsets: -1, as Kafka's clients report it.
    const first = base.get(key);
    return { topic, partition, offset: first === undefined ? -1 : first + index };
  });
}

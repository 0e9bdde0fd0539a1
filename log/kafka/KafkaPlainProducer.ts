import { Producer, ProduceAcks } from '@platformatic/kafka';
import type { Logger } from 'pino';
import type { ProducerRecord, RecordMetadata } from '../Log.js';
import type { KafkaAcks, KafkaCompression } from './KafkaConfig.js';
import type { KafkaLogMetrics } from './KafkaLogMetrics.js';
import type { KafkaMessage } from './KafkaPartitioner.js';
import { closeForcefully, explainKafkaError, hasKafkaError, splitForSend, withDeadline } from './KafkaRecords.js';
import { recordMetadata } from './KafkaTransactionalProducer.js';
import { explainSecurityFailure, type KafkaClientSecurity, type KafkaSecurity } from './KafkaSecurity.js';

/** Answers after which the plain idempotent producer is replaced (see sendPlain). */
const PRODUCER_STATE_LOST = ['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING'];

export interface KafkaPlainProducerSettings {
  clientId: string;
  brokers: string[];
  acks: KafkaAcks;
  compression: KafkaCompression;
  retries: number;
  retryBackoffMs: number;
  produceTimeoutMs: number;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  /** The log's TLS / SASL settings, to explain a refused produce. */
  security?: KafkaSecurity;
  /** The client options those settings give (spread into the producer's). */
  clientSecurity: KafkaClientSecurity;
  logger?: Logger;
  metrics?: KafkaLogMetrics;
  toMessages: (records: ProducerRecord[]) => Promise<KafkaMessage[]>;
}

/**
 * The Kafka log's produce outside transactions: idempotent with acks=all unless KAFKA_ACKS says
 * otherwise. The client is created on the first produce.
 */
export class KafkaPlainProducer {
  private producer: Producer | undefined;
  private readonly queue: { records: ProducerRecord[]; resolve: (metadata: RecordMetadata[]) => void; reject: (error: unknown) => void }[] = [];
  private producing = false;

  constructor(private readonly settings: KafkaPlainProducerSettings) {}

  /**
   * Concurrent produce calls are coalesced into one send at a time: the client numbers idempotent
   * batches per partition when it sends and advances the sequence only on the answer, so two sends
   * in flight at once get the same sequence and the broker drops the second as a duplicate.
   * Coalescing keeps one request in flight and still batches the waiting callers together.
   */
  produce(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    if (records.length === 0) return Promise.resolve([]);
    const queued = new Promise<RecordMetadata[]>((resolve, reject) => {
      this.queue.push({ records, resolve, reject });
    });
    void this.drainQueue();
    return withDeadline(queued, this.settings.produceTimeoutMs, `produce of ${records.length} record(s) to Kafka`);
  }

  async close(): Promise<void> {
    if (this.producer) await closeForcefully(this.producer).catch(() => undefined);
  }

  private acks(): number {
    return this.settings.acks === 'all' ? ProduceAcks.ALL : this.settings.acks === '1' ? ProduceAcks.LEADER : ProduceAcks.NO_RESPONSE;
  }

  private client(): Producer {
    if (!this.producer) {
      this.producer = new Producer({
        ...this.settings.clientSecurity,
        clientId: `${this.settings.clientId}-producer`,
        bootstrapBrokers: this.settings.brokers,
        idempotent: this.settings.acks === 'all',
        acks: this.acks(),
        compression: this.settings.compression,
        connectTimeout: this.settings.connectTimeoutMs,
        timeout: this.settings.requestTimeoutMs,
        // An idempotent client would otherwise retry forever; bounded retries keep produce bounded.
        retries: Math.max(2, this.settings.retries),
        retryDelay: this.settings.retryBackoffMs,
      });
    }
    return this.producer;
  }

  /**
   * One send on the plain producer. A broker that was SIGKILLed comes back with producer state
   * that no longer matches the client's sequence numbers (OUT_OF_ORDER_SEQUENCE_NUMBER) or has
   * forgotten the producer id; every later send of that producer would be refused the same way
   * (and the ingress would dead-letter records a healthy log "refused"). A fresh producer (new
   * producer id) sends the chunk again. A chunk that the dead broker had written before the
   * answer was lost is then written twice: the topology's dedupe drops the copy by event id.
   */
  private async sendPlain(chunk: KafkaMessage[]) {
    // acks per send: the client ignores the constructor's acks for a non-idempotent producer.
    try {
      return await this.client().send({ messages: chunk, acks: this.acks() });
    } catch (error) {
      if (!PRODUCER_STATE_LOST.some((id) => hasKafkaError(error, id))) throw error;
      this.settings.logger?.warn({ errors: PRODUCER_STATE_LOST.filter((id) => hasKafkaError(error, id)) }, 'kafka producer state lost (broker restarted): sending again with a new producer id');
      this.settings.metrics?.producerReset();
      const stale = this.producer;
      this.producer = undefined;
      if (stale) void closeForcefully(stale).catch(() => undefined);
      return await this.client().send({ messages: chunk, acks: this.acks() });
    }
  }

  private async drainQueue(): Promise<void> {
    if (this.producing) return;
    this.producing = true;
    try {
      while (this.queue.length > 0) {
        const waiting = this.queue.splice(0, this.queue.length);
        try {
          const messages = await this.settings.toMessages(waiting.flatMap((entry) => entry.records));
          const metadata: RecordMetadata[] = [];
          for (const chunk of splitForSend(messages)) {
            const result = await this.sendPlain(chunk);
            metadata.push(...recordMetadata(chunk, result.offsets ?? []));
            this.settings.metrics?.produced(chunk.length);
          }
          let at = 0;
          for (const entry of waiting) {
            entry.resolve(metadata.slice(at, at + entry.records.length));
            at += entry.records.length;
          }
        } catch (error) {
          this.settings.metrics?.produceFailed();
          const explained = explainSecurityFailure(error, this.settings.security, this.settings.brokers) ?? explainKafkaError('produce to Kafka failed', error);
          for (const entry of waiting) entry.reject(explained);
        }
      }
    } finally {
      this.producing = false;
    }
  }
}

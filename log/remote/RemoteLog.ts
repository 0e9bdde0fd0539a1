import type { MessagePort } from 'node:worker_threads';
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
import type { Registry } from 'prom-client';
import type { ServerMessage } from './RemoteProtocol.js';
import { ProduceCoalescer } from './ProduceCoalescer.js';
import { unpackLogRecords } from './RecordPacking.js';
import { RemoteChannel } from './RemoteChannel.js';
import { RemoteConsumer } from './RemoteConsumer.js';
import { RemoteLogMetrics } from './RemoteLogMetrics.js';
import { RemoteTransactionalProducer } from './RemoteTransaction.js';

/**
 * A `Log` served by a LogServer in another thread (or the same one, over a MessageChannel).
 * Nothing above the Log interface can tell it from the log it proxies: `kind` is the served
 * log's, errors keep their classes (UnknownTopicError, ProducerFencedError, TypeError,
 * RangeError), records keep their bytes. What differs, and is documented in README.md:
 * a transaction's produce()/sendOffsets() errors surface at commit() (as in Kafka mode), and when
 * the server goes away every pending and later call rejects with LogServerGoneError.
 *
 * close() ends this client's session (its consumers leave their groups without listener
 * callbacks, as EmbeddedLog.close abandons them; its producers close); the served log stays
 * open for its owner to close.
 */
export class RemoteLog implements Log {
  private readonly consumers = new Map<number, RemoteConsumer>();
  private readonly producer: ProduceCoalescer;
  private nextHandle = 1;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly channel: RemoteChannel,
    readonly kind: 'embedded' | 'kafka',
  ) {
    this.producer = new ProduceCoalescer(channel);
  }

  /**
   * Connects to the LogServer serving the other end of `port` and learns the served log's kind.
   * With a registry, counts losses of the server (streamline_log_remote_server_gone_total).
   */
  static async connect(port: MessagePort, options: { registry?: Registry } = {}): Promise<RemoteLog> {
    let log: RemoteLog | null = null;
    const metrics = options.registry ? new RemoteLogMetrics(options.registry) : null;
    const channel = new RemoteChannel(
      port,
      (message) => {
        if (!log) return Promise.reject(new Error('rebalance callback before the remote log was connected'));
        return log.runListener(message);
      },
      (how) => metrics?.serverWentAway(how),
    );
    const { kind } = await channel.call('hello', []);
    log = new RemoteLog(channel, kind);
    return log;
  }

  private runListener(message: Extract<ServerMessage, { type: 'callback' }>): Promise<void> {
    const consumer = this.consumers.get(message.consumerId);
    if (!consumer) return Promise.resolve();
    return consumer.runListener(message.kind, message.partitions, message.state);
  }

  /** For the thread that started the server: its worker exited, say so (reason in the errors). */
  serverGone(reason: string): void {
    this.channel.goneWith(reason);
  }

  ensureTopic(topic: string, config: TopicConfig): Promise<void> {
    return this.channel.call('ensureTopic', [topic, config]);
  }

  partitionCount(topic: string): Promise<number> {
    return this.channel.call('partitionCount', [topic]);
  }

  listTopics(): Promise<string[]> {
    return this.channel.call('listTopics', []);
  }

  async produce(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    if (records.length === 0) {
      this.channel.assertOpen('produce');
      return [];
    }
    return this.producer.produce(records);
  }

  beginningOffset(partition: TopicPartition): Promise<number> {
    return this.channel.call('beginningOffset', [partition]);
  }

  endOffset(partition: TopicPartition): Promise<number> {
    return this.channel.call('endOffset', [partition]);
  }

  /** One message for the whole list (the lag monitors read every partition each second). */
  beginningOffsets(partitions: TopicPartition[]): Promise<Map<string, number>> {
    return this.channel.call('beginningOffsets', [partitions]);
  }

  /** One message for the whole list. */
  endOffsets(partitions: TopicPartition[]): Promise<Map<string, number>> {
    return this.channel.call('endOffsets', [partitions]);
  }

  async read(partition: TopicPartition, fromOffset: number, maxRecords: number): Promise<LogRecord[]> {
    return unpackLogRecords(await this.channel.call('read', [partition, fromOffset, maxRecords]));
  }

  committedOffsets(groupId: string, partitions: TopicPartition[]): Promise<Map<string, number>> {
    return this.channel.call('committedOffsets', [groupId, partitions]);
  }

  createConsumer(options: ConsumerOptions): LogConsumer {
    this.channel.assertOpen('createConsumer');
    const consumer = new RemoteConsumer(this.channel, this.nextHandle++, { ...options }, (c) => this.consumers.delete(c.id));
    this.consumers.set(consumer.id, consumer);
    return consumer;
  }

  async createTransactionalProducer(transactionalId: string): Promise<TransactionalProducer> {
    const id = this.nextHandle++;
    await this.channel.call('producerCreate', [id, transactionalId]);
    return new RemoteTransactionalProducer(this.channel, id, transactionalId, () => this.nextHandle++);
  }

  /** False, not a rejection, when the server is gone: /ready reports it, nothing throws. */
  async isHealthy(): Promise<boolean> {
    if (!this.channel.isOpen) return false;
    try {
      return await this.channel.call('isHealthy', []);
    } catch {
      return false;
    }
  }

  /** Idempotent; resolves even if the server is already gone. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        // Produce calls already accepted go first (a port keeps order), as EmbeddedLog.close writes them.
        this.producer.flush();
        if (this.channel.isOpen) await this.channel.call('close', []);
      } catch {
        // The server went away meanwhile: nothing of ours is left to release.
      } finally {
        this.consumers.clear();
        this.channel.closeByClient();
      }
    })();
    return this.closing;
  }
}

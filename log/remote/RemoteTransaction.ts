import type { LogConsumer, ProducerRecord, RecordMetadata, TopicPartitionOffset, Transaction, TransactionalProducer } from '../Log.js';
import type { TransactionOffsets } from './RemoteProtocol.js';
import type { RemoteChannel } from './RemoteChannel.js';
import { RemoteConsumer } from './RemoteConsumer.js';
import { checkRecordTypes, packRecords, transferablesOf, unpackMetadata } from './RecordPacking.js';

/**
 * A transactional producer of the served log. begin() asks the server (which checks fencing and
 * the one-open-transaction rule); the transaction then collects its records and offsets here and
 * sends them with commit() in one message, where the server applies them to its own transaction
 * and commits: one atomic unit, exactly as in-process. Errors the served log would raise in
 * produce() or sendOffsets() (an unknown topic, a bad partition) therefore surface at commit(),
 * which is also where Kafka mode reports them.
 */
export class RemoteTransactionalProducer implements TransactionalProducer {
  private closed = false;

  constructor(
    private readonly channel: RemoteChannel,
    private readonly id: number,
    readonly transactionalId: string,
    private readonly nextId: () => number,
  ) {}

  async begin(): Promise<Transaction> {
    if (this.closed) throw new Error(`transactional producer "${this.transactionalId}" is closed`);
    const transactionId = this.nextId();
    await this.channel.call('producerBegin', [this.id, transactionId]);
    return new RemoteTransaction(this.channel, transactionId);
  }

  /** Aborts an open transaction on the server; resolves if the server is already gone. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.channel.isOpen) return;
    try {
      await this.channel.call('producerClose', [this.id]);
    } catch (error) {
      if (this.channel.isOpen) throw error;
    }
  }
}

class RemoteTransaction implements Transaction {
  private records: ProducerRecord[] = [];
  private offsets: TransactionOffsets[] = [];
  private finished = false;

  constructor(
    private readonly channel: RemoteChannel,
    private readonly id: number,
  ) {}

  produce(records: ProducerRecord[]): void {
    this.assertActive();
    // Checked now, as the embedded log does: a caller's type mistake fails where it is made.
    checkRecordTypes(records);
    for (const r of records) this.records.push(r);
  }

  sendOffsets(consumer: LogConsumer, offsets: TopicPartitionOffset[]): void {
    this.assertActive();
    if (!(consumer instanceof RemoteConsumer) || !consumer.usesChannel(this.channel)) {
      throw new Error('sendOffsets needs a consumer created by the same RemoteLog');
    }
    this.offsets.push({ consumerId: consumer.id, offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })) });
  }

  async commit(): Promise<RecordMetadata[]> {
    this.assertActive();
    this.finished = true;
    const packed = this.records.length > 0 ? packRecords(this.records) : null;
    this.records = [];
    const metadata = await this.channel.call('transactionCommit', [this.id, packed, this.offsets], packed ? transferablesOf(packed) : undefined);
    return unpackMetadata(metadata);
  }

  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.records = [];
    this.offsets = [];
    await this.channel.call('transactionAbort', [this.id]);
  }

  private assertActive(): void {
    if (this.finished) throw new Error('transaction is already committed or aborted');
    this.channel.assertOpen('transaction');
  }
}

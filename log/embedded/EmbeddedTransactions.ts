import type {
  LogConsumer,
  ProducerRecord,
  RecordMetadata,
  TopicPartitionOffset,
  Transaction,
  TransactionalProducer,
} from '../Log.js';
import type { CommitUnit, PendingOffset, PendingRecord } from './GroupCommitWriter.js';
import { NamedError } from '../../errors/NamedError.js';

/** What a transaction needs from its EmbeddedLog. */
export interface TransactionHost {
  assertOpen(): void;
  /** Validates and places records on partitions now (errors surface at produce(), as in Kafka). */
  resolveRecords(records: ProducerRecord[]): PendingRecord[];
  resolveOffsets(groupId: string, offsets: TopicPartitionOffset[]): PendingOffset[];
  /** The check, run when the commit is written, that the consumer still owns these partitions. */
  ownershipGuard(consumer: LogConsumer, partitions: TopicPartitionOffset[]): (() => void) | undefined;
  submit(unit: CommitUnit): void;
}

export class ProducerFencedError extends NamedError {
  constructor(readonly transactionalId: string) {
    super(`transactional producer "${transactionalId}" was fenced by a newer instance with the same id`);
  }
}

/**
 * Embedded exactly-once: a transaction buffers its records and offsets in memory and commit()
 * hands them to the group-commit writer as one unit, i.e. one atomic RocksDB write batch. Nothing
 * is visible before commit and nothing at all after abort, so readers need no isolation level.
 * Offsets are assigned at commit.
 *
 * Zombie fencing as in Kafka: creating a producer with a transactionalId bumps its epoch; an
 * older instance's open transaction then fails to commit with ProducerFencedError.
 */
export class TransactionRegistry {
  private readonly epochs = new Map<string, number>();

  constructor(private readonly host: TransactionHost) {}

  create(transactionalId: string): TransactionalProducer {
    if (!transactionalId) throw new Error('transactionalId is required');
    const epoch = (this.epochs.get(transactionalId) ?? 0) + 1;
    this.epochs.set(transactionalId, epoch);
    return new EmbeddedTransactionalProducer(transactionalId, epoch, this.host, this.epochs);
  }
}

class EmbeddedTransactionalProducer implements TransactionalProducer {
  private current: EmbeddedTransaction | null = null;
  private closed = false;

  constructor(
    readonly transactionalId: string,
    private readonly epoch: number,
    private readonly host: TransactionHost,
    private readonly epochs: Map<string, number>,
  ) {}

  async begin(): Promise<Transaction> {
    if (this.closed) throw new Error(`transactional producer "${this.transactionalId}" is closed`);
    this.host.assertOpen();
    this.assertNotFenced();
    if (this.current && !this.current.finished) {
      throw new Error(`transactional producer "${this.transactionalId}" already has an open transaction`);
    }
    this.current = new EmbeddedTransaction(this.host, () => this.assertNotFenced());
    return this.current;
  }

  private assertNotFenced(): void {
    if (this.epochs.get(this.transactionalId) !== this.epoch) throw new ProducerFencedError(this.transactionalId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.current && !this.current.finished) await this.current.abort();
  }
}

class EmbeddedTransaction implements Transaction {
  private records: PendingRecord[] = [];
  private offsets = new Map<string, PendingOffset>();
  /** Ownership checks of the consumers whose offsets this transaction carries (EmbeddedLog.ownershipGuard). */
  private guards: Array<() => void> = [];
  finished = false;

  constructor(
    private readonly host: TransactionHost,
    private readonly assertNotFenced: () => void,
  ) {}

  produce(records: ProducerRecord[]): void {
    this.assertActive();
    const resolved = this.host.resolveRecords(records);
    for (const r of resolved) this.records.push(r);
  }

  sendOffsets(consumer: LogConsumer, offsets: TopicPartitionOffset[]): void {
    this.assertActive();
    // Later offsets for the same partition replace earlier ones, as in Kafka's TxnOffsetCommit.
    for (const o of this.host.resolveOffsets(consumer.groupId, offsets)) {
      this.offsets.set(`${o.groupId}\u0000${o.partition.topicId}:${o.partition.partition}`, o);
    }
    const guard = this.host.ownershipGuard(consumer, offsets);
    if (guard) this.guards.push(guard);
  }

  commit(): Promise<RecordMetadata[]> {
    this.assertActive();
    this.finished = true;
    const records = this.records;
    const offsets = [...this.offsets.values()];
    const guards = this.guards;
    this.records = [];
    this.offsets.clear();
    this.guards = [];
    // Checked as the batch is written: a producer fenced meanwhile, or a member that lost a
    // partition whose offsets this carries, fails the whole transaction (records included).
    const precondition =
      guards.length === 0
        ? this.assertNotFenced
        : () => {
            this.assertNotFenced();
            for (const guard of guards) guard();
          };
    return new Promise<RecordMetadata[]>((resolve, reject) => {
      this.host.submit({ records, offsets, precondition, resolve, reject });
    });
  }

  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.records = [];
    this.offsets.clear();
    this.guards = [];
  }

  private assertActive(): void {
    if (this.finished) throw new Error('transaction is already committed or aborted');
    this.host.assertOpen();
  }
}

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Log, LogConsumer, LogRecord, ProducerRecord, TopicPartitionOffset, TransactionalProducer } from '../log/Log.js';
import { deadLetterHeaders } from '../topology/runtime/DeadLetters.js';
import type { PartitionBatcher } from './PartitionBatcher.js';
import type { SinkMetrics } from './SinkMetrics.js';

/** Why the sink dead-lettered a record: the engine refused its row, it is not JSON, its mapper threw. */
export type SinkDeadLetterReason = 'refused' | 'not_json' | 'mapper_error';

export interface SinkDeadLetter {
  record: LogRecord;
  reason: SinkDeadLetterReason;
  /** dlq_reason: which table and what the engine (or the mapper) said. */
  text: string;
}

/**
 * The sink's offset commits, and its dead letters with them.
 *
 * A batch with dead letters commits its offsets in one log transaction with the dead letters
 * (Transaction: one RocksDB write batch embedded, EOS v2 on Kafka): either both are visible or
 * neither. A crash before that commit replays the batch, which rebuilds the same rows, finds the
 * same refused rows and dead-letters them then; a crash after it replays nothing. So each poison
 * record lands in the DLQ exactly once, as the rows land in ClickHouse exactly once.
 * Batches without dead letters keep the plain commit (no transaction on the hot path).
 *
 * Dead letters are the original record (key, value, headers) with the pipeline's DLQ headers
 * (dlq_reason, dlq_timestamp, original_topic, original_partition, original_offset), as the
 * topology's runtime writes them (topology/runtime/DeadLetters.ts), so the DLQ replay tools
 * treat them alike.
 */
export class SinkCommitter {
  private producer: TransactionalProducer | null = null;
  private topicReady = false;

  constructor(
    private readonly log: Log,
    private readonly groupId: string,
    readonly dlqTopic: string,
    private readonly metrics: SinkMetrics,
    private readonly logger?: Logger,
  ) {}

  /**
   * Commits every partition with a written batch: plain offsets, or with dead letters one log
   * transaction holding them and the offsets. On failure everything stays in `written` for the
   * next commit; the rows are in ClickHouse, and a replay before that is dropped by the tokens.
   */
  async commitWritten(consumer: LogConsumer, partitions: Iterable<PartitionBatcher>): Promise<void> {
    const works = [...partitions].filter((work) => work.written !== null);
    if (works.length === 0) return;
    const taken = works.map((work) => work.written!);
    const offsets = works.map((work, i) => ({ topic: work.tp.topic, partition: work.tp.partition, offset: taken[i]!.offset }));
    const deadLetters = taken.flatMap((written) => written.deadLetters);
    try {
      await this.commit(consumer, offsets, deadLetters);
    } catch (error) {
      this.logger?.warn(
        { err: error, deadLetters: deadLetters.length },
        deadLetters.length > 0
          ? 'ClickHouse sink: commit of offsets and dead letters failed; both are retried with the next commit'
          : 'ClickHouse sink: offset commit failed; it will be covered by the next one',
      );
      return;
    }
    works.forEach((work, i) => {
      if (work.written === taken[i]) work.written = null;
      work.committed = offsets[i]!.offset;
      this.metrics.batches.inc({ sink: this.groupId, topic: work.tp.topic }, taken[i]!.batches);
    });
    for (const { record, reason, text } of deadLetters) {
      this.metrics.deadLetters.inc({ sink: this.groupId, topic: record.topic, reason });
      this.logger?.warn({ topic: record.topic, partition: record.partition, offset: record.offset, dlqTopic: this.dlqTopic, reason: text }, 'ClickHouse sink: record dead-lettered');
    }
  }

  async commit(consumer: LogConsumer, offsets: TopicPartitionOffset[], deadLetters: readonly SinkDeadLetter[]): Promise<void> {
    if (deadLetters.length === 0) {
      await consumer.commitOffsets(offsets);
      return;
    }
    if (!this.topicReady) {
      await this.log.ensureTopic(this.dlqTopic, { partitions: 1 });
      this.topicReady = true;
    }
    // One producer per sink instance, made on the first dead letter: Kafka fences an older
    // producer of the same transactional id, so the id is unique to this instance.
    this.producer ??= await this.log.createTransactionalProducer(`${this.groupId}-dead-letters-${randomUUID()}`);
    const transaction = await this.producer.begin();
    try {
      transaction.produce(deadLetters.map((letter) => this.deadLetterRecord(letter)));
      transaction.sendOffsets(consumer, offsets);
    } catch (error) {
      await transaction.abort();
      throw error;
    }
    await transaction.commit();
  }

  deadLetterRecord({ record, text }: SinkDeadLetter): ProducerRecord {
    return {
      topic: this.dlqTopic,
      key: record.key,
      value: record.value,
      timestamp: record.timestamp,
      headers: deadLetterHeaders(record.headers, record, text, Date.now()),
    };
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = null;
    await producer?.close();
  }
}

import type { LogConsumer, ProducerRecord, RecordMetadata, TopicPartitionOffset, Transaction, TransactionalProducer } from '../../log/Log.js';
import { hasDeferredPlacement, placeDeferred } from './DeferredPlacement.js';
import type { CommitEvent } from './StreamsConfig.js';
import type { StreamThreadContext } from './StreamThreadContext.js';
import type { StreamTask } from './StreamTask.js';
import type { TaskManager } from './TaskManager.js';

/** What one commit hands to the log: every record the tasks produced and every input offset they consumed. */
interface CommitBatch {
  tasks: StreamTask[];
  records: ProducerRecord[];
  offsets: TopicPartitionOffset[];
}

/**
 * One stream thread's exactly-once commit (Kafka Streams' TaskExecutor commit with EOS v2, laid
 * out as Quix Streams' Checkpoint.commit()): outputs, changelogs and input offsets of all its
 * tasks in one transaction of its own producer, then the local stores with their checkpoints.
 * Not reentrant: the stream thread serializes calls.
 */
export class TaskCommitter {
  constructor(
    private readonly context: StreamThreadContext,
    private readonly taskManager: TaskManager,
    private readonly consumer: LogConsumer,
    private readonly producer: TransactionalProducer,
  ) {}

  /**
   * Commits every task with uncommitted work; resolves the commit's event, or undefined when
   * there was nothing to commit. A failure once the tasks are drained marks them corrupted: what
   * they held is gone with the aborted transaction, and the stream thread rebuilds them from the
   * changelogs and re-reads their input from the committed offsets.
   */
  async commit(): Promise<CommitEvent | undefined> {
    const started = performance.now();
    // Step 1. Take the processing counts of the records about to be drained: published only if their transaction commits.
    const counted = this.context.metrics.takePending();
    let batch: CommitBatch;
    try {
      // Step 2. Drain the tasks: outputs, then the stores' changelog records, and the input offsets.
      // A processor's beforeCommit may throw here, after other tasks were drained: what they held
      // would be lost with this batch while their offsets went into the next commit, so this too
      // marks the tasks for a rebuild.
      batch = this.collect();
    } catch (error) {
      await this.abandon(undefined);
      throw error;
    }
    if (batch.tasks.length === 0) {
      this.context.metrics.publishCommitted(counted);
      return undefined;
    }
    let transaction: Transaction | undefined;
    let changelogEnds: Map<string, number>;
    try {
      // Step 3. Create the topics that records are routed to at run time and that do not exist yet.
      await this.createMissingTopics(batch.records);
      // A StreamPartitioner behind a TopicNameExtractor places its records now that their topics exist.
      if (hasDeferredPlacement(batch.records)) batch.records = await placeDeferred(batch.records, (topic) => this.partitionCount(topic), this.context.config.dlqTopic);
      // Step 4. Begin the transaction.
      transaction = await this.beginTransaction();
      // Step 5. Produce outputs and changelogs into it.
      this.produce(transaction, batch.records);
      // Step 6. Add the input offsets to it (EOS v2: fenced by the consumer group generation).
      this.sendOffsets(transaction, batch.offsets);
      // Step 7. Commit: all of it becomes visible at once, or none of it.
      changelogEnds = endOffsetsWritten(await this.commitTransaction(transaction));
    } catch (error) {
      // The counts go with the aborted records, which are processed (and counted) again.
      await this.abandon(transaction);
      throw error;
    }
    this.context.metrics.publishCommitted(counted);
    // Step 8. Flush the stores with the changelog offsets their data reaches (their checkpoints).
    await this.checkpointStores(batch.tasks, changelogEnds);
    // Step 9. Count the commit.
    return this.recordCommit(batch, changelogEnds, performance.now() - started);
  }

  private collect(): CommitBatch {
    const batch: CommitBatch = { tasks: [], records: [], offsets: [] };
    for (const task of this.taskManager.tasks.values()) {
      if (!task.hasUncommittedWork()) continue;
      batch.tasks.push(task);
      for (const record of task.drainForCommit()) batch.records.push(record);
      batch.offsets.push(...this.committableOffsets(task));
    }
    return batch;
  }

  /**
   * A task with nothing buffered commits the consumer's position rather than its last record + 1:
   * on Kafka the position is past the transaction marker that follows the record, so a caught-up
   * group shows lag 0 (Kafka Streams does the same since KAFKA-6607).
   */
  private committableOffsets(task: StreamTask): TopicPartitionOffset[] {
    const offsets = task.offsetsToCommit();
    if (task.buffered() > 0) return offsets;
    return offsets.map((tp) => {
      const position = this.consumer.position(tp);
      return position !== undefined && position > tp.offset ? { ...tp, offset: position } : tp;
    });
  }

  private async createMissingTopics(records: ProducerRecord[]): Promise<void> {
    const { knownTopics, log, config } = this.context;
    for (const record of records) {
      if (knownTopics.has(record.topic)) continue;
      await log.ensureTopic(record.topic, { partitions: config.defaultPartitions });
      knownTopics.add(record.topic);
    }
  }

  /** Partition counts of topics a TopicNameExtractor routes to, asked once per topic (Kafka Streams: the producer's metadata). */
  private readonly partitionCounts = new Map<string, number>();

  private async partitionCount(topic: string): Promise<number> {
    let count = this.partitionCounts.get(topic);
    if (count === undefined) {
      count = await this.context.log.partitionCount(topic);
      this.partitionCounts.set(topic, count);
    }
    return count;
  }

    private beginTransaction(): Promise<Transaction> {
    return this.producer.begin();
  }

  private produce(transaction: Transaction, records: ProducerRecord[]): void {
    transaction.produce(records);
  }

  private sendOffsets(transaction: Transaction, offsets: TopicPartitionOffset[]): void {
    transaction.sendOffsets(this.consumer, offsets);
  }

  private commitTransaction(transaction: Transaction): Promise<RecordMetadata[]> {
    return transaction.commit();
  }

  /** The drained work is lost with the transaction: the tasks must be rebuilt from the last commit. */
  private async abandon(transaction: Transaction | undefined): Promise<void> {
    this.context.metrics.commits.inc({ result: 'failed' });
    await transaction?.abort().catch(() => undefined);
    this.taskManager.markCorrupted();
  }

  /**
   * The transaction is committed; a store that does not take its writes here is rebuilt from its
   * changelog, which holds everything committed.
   */
  private async checkpointStores(tasks: StreamTask[], changelogEnds: Map<string, number>): Promise<void> {
    try {
      for (const task of tasks) await task.afterCommit(changelogEnds);
    } catch (error) {
      this.taskManager.markCorrupted();
      throw error;
    }
  }

  private recordCommit(batch: CommitBatch, changelogEnds: Map<string, number>, durationMs: number): CommitEvent {
    const { metrics } = this.context;
    metrics.commitLatency.observe(durationMs / 1000);
    metrics.commits.inc({ result: 'ok' });
    const written = [...changelogEnds].map(([key, offset]) => {
      const colon = key.lastIndexOf(':');
      return { topic: key.slice(0, colon), partition: Number(key.slice(colon + 1)), offset };
    });
    return { offsets: batch.offsets, written, records: batch.records.length, durationMs };
  }
}

/** Per partition written (`topic:partition`), the offset after its last record. */
function endOffsetsWritten(written: RecordMetadata[]): Map<string, number> {
  const ends = new Map<string, number>();
  for (const meta of written) {
    const key = `${meta.topic}:${meta.partition}`;
    if (meta.offset + 1 > (ends.get(key) ?? -1)) ends.set(key, meta.offset + 1);
  }
  return ends;
}

import type { Logger } from 'pino';
import type { LogRecord, TopicPartition } from '../log/Log.js';
import type { AnalyticsStore } from './AnalyticsStore.js';
import { batchTables, type TableRoute } from './BatchRows.js';
import { clickHouseErrorCode, insertErrorText } from './InsertErrors.js';
import { recordBytes, type Batch } from './PartitionBatcher.js';
import { insertIsolatingPoison, type IsolationStep } from './PoisonIsolation.js';
import type { SinkDeadLetter, SinkDeadLetterReason } from './SinkCommitter.js';
import type { SinkMetrics } from './SinkMetrics.js';

export interface WrittenBatch {
  dedupToken: string;
  /** Rows that went in, per table. */
  rows: Record<string, number>;
  /** Records to dead-letter, in offset order: one per record, whatever number of tables refused it. */
  deadLetters: SinkDeadLetter[];
}

export interface BatchWriterOptions {
  store: AnalyticsStore;
  groupId: string;
  metrics: SinkMetrics;
  logger?: Logger;
  /** After each insert made to isolate a refused row (tests crash here, mid-isolation). */
  onIsolationStep?: (step: IsolationStep & TopicPartition) => void | Promise<void>;
}

/**
 * One batch into its tables. Every table gets the batch's token; a block the engine refuses for
 * its data is narrowed down to the refused rows (PoisonIsolation.ts), which come back as dead
 * letters together with the records that made no row (not JSON, mapper threw). An engine error
 * is thrown: the sink keeps the batch and retries it whole, and the tables already written drop
 * the repeat by token.
 */
export class BatchWriter {
  constructor(private readonly options: BatchWriterOptions) {}

  async write(tp: TopicPartition, routes: readonly TableRoute[], batch: Batch): Promise<WrittenBatch> {
    const { store, groupId, metrics } = this.options;
    const letters = new Map<number, SinkDeadLetter>();
    const deadLetter = (record: LogRecord, reason: SinkDeadLetterReason, text: string) => {
      const known = letters.get(record.offset);
      if (!known) letters.set(record.offset, { record, reason, text });
      else known.text += `; ${text}`;
    };
    const tables = await batchTables(routes, batch.records, (reason, record, table, error) => {
      metrics.skipped.inc({ sink: groupId, topic: tp.topic, reason });
      if (reason === 'not_json') deadLetter(record, reason, `ClickHouse sink ${groupId}: the record value is not JSON`);
      else deadLetter(record, reason, `ClickHouse sink ${groupId}: the row mapper of ${table} threw: ${insertErrorText(error)}`);
    });
    const dedupToken = `${tp.topic}:${tp.partition}:${batch.first}-${batch.last}`;
    const rowCounts: Record<string, number> = {};
    for (const [table, { rows, sources }] of tables) {
      rowCounts[table] = 0;
      if (rows.length === 0) continue;
      const end = metrics.insertSeconds.startTimer({ sink: groupId, table });
      let refused;
      try {
        refused = await insertIsolatingPoison(store, table, rows, {
          dedupToken,
          maxRowsPerInsert: store.maxRowsPerInsert,
          onStep: async (step) => {
            metrics.isolationInserts.inc({ sink: groupId, table, result: step.refused ? 'refused' : 'inserted' });
            await this.options.onIsolationStep?.({ ...step, ...tp });
          },
        });
      } catch (error) {
        metrics.failures.inc({ sink: groupId, table });
        if (clickHouseErrorCode(error) === MEMORY_LIMIT_EXCEEDED) throw this.memoryLimitError(error, tp, table, batch, rows.length);
        throw error;
      }
      end();
      metrics.rowsInserted.inc({ sink: groupId, table }, rows.length - refused.length);
      rowCounts[table] = rows.length - refused.length;
      for (const { index, error } of refused) {
        deadLetter(sources[index]!, 'refused', `ClickHouse refused the row for ${store.database}.${table}: ${insertErrorText(error)}`);
      }
    }
    const deadLetters = [...letters.values()].sort((a, b) => a.record.offset - b.record.offset);
    return { dedupToken, rows: rowCounts, deadLetters };
  }

  /**
   * Code 241 says the insert needed more memory than the engine may give a query (chDB's
   * max_memory_usage from the memory plan) or than it has left in all (max_server_memory_usage).
   * It is an engine error, not the rows': the batch is kept and retried with backoff, nothing is
   * dead-lettered or committed. Retrying the same cut can succeed once merges or other queries
   * free memory; a batch that alone needs more than the limit waits for an operator, so the
   * message names the batch and the settings to change.
   */
  private memoryLimitError(error: unknown, tp: TopicPartition, table: string, batch: Batch, rows: number): Error {
    const bytes = batch.records.reduce((sum, record) => sum + recordBytes(record), 0);
    const text =
      `ClickHouse memory limit exceeded (code ${MEMORY_LIMIT_EXCEEDED}) inserting ${rows} rows into ${this.options.store.database}.${table} ` +
      `from ${tp.topic}:${tp.partition} offsets ${batch.first}-${batch.last} (${batch.records.length} records, ${bytes} bytes); ` +
      `the batch stays in the log and is retried. If it keeps failing, raise CHDB_MAX_MEMORY_USAGE or MEMORY_LIMIT_MB, ` +
      `or lower SINK_BATCH_MAX_BYTES / SINK_BATCH_MAX_ROWS for new batches (a batch already cut keeps its offsets). Engine: ${insertErrorText(error)}`;
    this.options.logger?.error({ topic: tp.topic, partition: tp.partition, table, firstOffset: batch.first, lastOffset: batch.last, records: batch.records.length, bytes }, text);
    return new Error(text, { cause: error });
  }
}

/** ClickHouse's MEMORY_LIMIT_EXCEEDED. */
const MEMORY_LIMIT_EXCEEDED = 241;

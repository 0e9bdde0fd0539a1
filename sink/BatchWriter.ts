import type { Logger } from 'pino';
import type { LogRecord, TopicPartition } from '../log/Log.js';
import type { AnalyticsStore, InsertRow } from './AnalyticsStore.js';
import { batchTables, type TableRoute } from './BatchRows.js';
import { clickHouseErrorCode, insertErrorText } from './InsertErrors.js';
import { recordBytes, type Batch } from './PartitionBatcher.js';
import { insertIsolatingPoison, type IsolationStep } from './PoisonIsolation.js';
import type { SinkDeadLetter, SinkDeadLetterReason } from './SinkCommitter.js';
import type { SinkMetrics } from './SinkMetrics.js';
import { roundToken } from './SinkRound.js';

/** One partition's batch in a round (SinkRound.ts), with the routes of its topic. */
export interface RoundBatch {
  tp: TopicPartition;
  batch: Pick<Batch, 'first' | 'last' | 'records'>;
  routes: readonly TableRoute[];
  /**
   * False for a member of a recorded round whose partition this sink does not hold (read back
   * from the log to rebuild the round's blocks): its rows go in, but its dead letters and skips
   * are its owner's to commit and count.
   */
  owned: boolean;
}

export interface WrittenBatch {
  /** Rows of this batch that went in, per table. */
  rows: Record<string, number>;
  /** Records to dead-letter, in offset order: one per record, whatever number of tables refused it. */
  deadLetters: SinkDeadLetter[];
}

export interface WrittenRound {
  dedupToken: string;
  /** Per batch of the round, in its order. */
  batches: WrittenBatch[];
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
 * One flush round into its tables: every table gets one block (chunked at maxRowsPerInsert)
 * with the rows of all the round's batches in their order, under the round's token. A block the
 * engine refuses for its data is narrowed down to the refused rows (PoisonIsolation.ts), which
 * come back as dead letters of the batch they belong to, together with the records that made no
 * row (not JSON, mapper threw). An engine error is thrown: the sink keeps the round and retries
 * it whole, and the tables already written drop the repeat by token.
 */
export class BatchWriter {
  constructor(private readonly options: BatchWriterOptions) {}

  async write(round: string, batches: readonly RoundBatch[]): Promise<WrittenRound> {
    const { store, groupId, metrics } = this.options;
    const letters = batches.map(() => new Map<number, SinkDeadLetter>());
    const deadLetter = (owner: number, record: LogRecord, reason: SinkDeadLetterReason, text: string) => {
      const known = letters[owner]!.get(record.offset);
      if (!known) letters[owner]!.set(record.offset, { record, reason, text });
      else known.text += `; ${text}`;
    };
    // Rows per table across the round, each with its record and the batch it came from.
    const tables = new Map<string, { rows: InsertRow[]; sources: LogRecord[]; owners: number[] }>();
    const encodeRow = store.encodeRow?.bind(store);
    for (let owner = 0; owner < batches.length; owner++) {
      const { tp, batch, routes } = batches[owner]!;
      const mapped = await batchTables(routes, batch.records, (reason, record, table, error) => {
        if (!batches[owner]!.owned) return;
        metrics.skipped.inc({ sink: groupId, topic: tp.topic, reason });
        if (reason === 'not_json') deadLetter(owner, record, reason, `ClickHouse sink ${groupId}: the record value is not JSON`);
        else deadLetter(owner, record, reason, `ClickHouse sink ${groupId}: the row mapper of ${table} threw: ${insertErrorText(error)}`);
      }, undefined, encodeRow);
      for (const [table, { rows, sources }] of mapped) {
        const combined = tables.get(table) ?? { rows: [], sources: [], owners: [] };
        tables.set(table, combined);
        for (let i = 0; i < rows.length; i++) {
          combined.rows.push(rows[i]!);
          combined.sources.push(sources[i]!);
          combined.owners.push(owner);
        }
      }
    }
    const dedupToken = roundToken(round);
    const rowCounts = batches.map(() => ({}) as Record<string, number>);
    for (const [table, { rows, sources, owners }] of tables) {
      for (const counts of rowCounts) counts[table] = 0;
      if (rows.length === 0) continue;
      const end = metrics.insertSeconds.startTimer({ sink: groupId, table });
      let refused;
      try {
        refused = await insertIsolatingPoison(store, table, rows, {
          dedupToken,
          maxRowsPerInsert: store.maxRowsPerInsert,
          onStep: async (step) => {
            metrics.isolationInserts.inc({ sink: groupId, table, result: step.refused ? 'refused' : 'inserted' });
            await this.options.onIsolationStep?.({ ...step, ...batches[0]!.tp });
          },
        });
      } catch (error) {
        metrics.failures.inc({ sink: groupId, table });
        if (clickHouseErrorCode(error) === MEMORY_LIMIT_EXCEEDED) throw this.memoryLimitError(error, round, table, batches, rows.length);
        throw error;
      }
      end();
      metrics.rowsInserted.inc({ sink: groupId, table }, rows.length - refused.length);
      for (const owner of owners) rowCounts[owner]![table]! += 1;
      for (const { index, error } of refused) {
        const owner = owners[index]!;
        rowCounts[owner]![table]! -= 1;
        if (batches[owner]!.owned) deadLetter(owner, sources[index]!, 'refused', `ClickHouse refused the row for ${store.database}.${table}: ${insertErrorText(error)}`);
      }
    }
    return {
      dedupToken,
      batches: batches.map((_, i) => ({ rows: rowCounts[i]!, deadLetters: [...letters[i]!.values()].sort((a, b) => a.record.offset - b.record.offset) })),
    };
  }

  /**
   * Code 241 says the insert needed more memory than the engine may give a query (chDB's
   * max_memory_usage from the memory plan) or than it has left in all (max_server_memory_usage).
   * It is an engine error, not the rows': the round is kept and retried with backoff, nothing is
   * dead-lettered or committed. Retrying the same round can succeed once merges or other queries
   * free memory; a round that alone needs more than the limit waits for an operator, so the
   * message names its batches and the settings to change.
   */
  private memoryLimitError(error: unknown, round: string, table: string, batches: readonly RoundBatch[], rows: number): Error {
    const records = batches.reduce((sum, { batch }) => sum + batch.records.length, 0);
    const bytes = batches.reduce((sum, { batch }) => batch.records.reduce((total, record) => total + recordBytes(record), sum), 0);
    const text =
      `ClickHouse memory limit exceeded (code ${MEMORY_LIMIT_EXCEEDED}) inserting ${rows} rows into ${this.options.store.database}.${table} ` +
      `from the batches ${round} (${records} records, ${bytes} bytes); ` +
      `they stay in the log and are retried. If it keeps failing, raise CHDB_MAX_MEMORY_USAGE or MEMORY_LIMIT_MB, ` +
      `or lower SINK_BATCH_MAX_BYTES / SINK_BATCH_MAX_ROWS for new batches (a batch already cut keeps its offsets and round). Engine: ${insertErrorText(error)}`;
    this.options.logger?.error({ round, table, records, bytes }, text);
    return new Error(text, { cause: error });
  }
}

/** ClickHouse's MEMORY_LIMIT_EXCEEDED. */
const MEMORY_LIMIT_EXCEEDED = 241;

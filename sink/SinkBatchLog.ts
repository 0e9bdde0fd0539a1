import type { AnalyticsStore } from './AnalyticsStore.js';
import type { TopicPartition } from '../log/Log.js';
import { toClickHouseDateTime } from './RowMappers.js';

/**
 * Where a batch was cut, recorded in ClickHouse (table sink_batches) before the batch is inserted.
 *
 * Why: the dedup token names the batch's offsets, so a replayed batch is dropped only if it is
 * cut at exactly the same offsets as the attempt that may have landed. A size cut alone would be
 * reproducible, but the time cut (linger) depends on how fast records arrived, which a restart
 * does not reproduce. So the cut is written down first: a restarted sink (this process, or another
 * instance that took the partition over in Kafka mode) finds the batch that begins at its
 * committed offset and ends it at the recorded last offset, whatever its timers say.
 * The order is: record the cut → insert the rows → commit the offsets. A crash before the cut is
 * recorded has inserted nothing, so any cut is right after it.
 */
export class SinkBatchLog {
  constructor(
    private readonly store: AnalyticsStore,
    readonly sink: string,
  ) {}

  /** Recorded cuts of a partition from `fromOffset` on: first offset → last offset. */
  async load(tp: TopicPartition, fromOffset: number): Promise<Map<number, number>> {
    const rows = await this.store.query<{ first: number; last: number }>(
      `SELECT first_offset AS first, max(last_offset) AS last FROM ${this.store.database}.sink_batches
WHERE sink = {sink:String} AND topic = {topic:String} AND partition = {partition:UInt32} AND last_offset >= {from:UInt64}
GROUP BY first_offset`,
      { sink: this.sink, topic: tp.topic, partition: tp.partition, from: fromOffset },
    );
    return new Map(rows.map((row) => [Number(row.first), Number(row.last)]));
  }

  /**
   * Records cuts in one insert. Its token only spares a retried identical insert; a cut recorded
   * twice is harmless, since a batch's first offset always gets the same last offset.
   */
  async record(cuts: Array<{ tp: TopicPartition; first: number; last: number }>): Promise<void> {
    if (cuts.length === 0) return;
    const createdAt = toClickHouseDateTime(Date.now());
    await this.store.insert(
      'sink_batches',
      cuts.map(({ tp, first, last }) => ({ sink: this.sink, topic: tp.topic, partition: tp.partition, first_offset: first, last_offset: last, created_at: createdAt })),
      { dedupToken: `cut:${this.sink}:${cuts.map(({ tp, first }) => `${tp.topic}:${tp.partition}:${first}`).join(',')}` },
    );
  }
}

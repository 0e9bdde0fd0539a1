import type { AnalyticsStore } from './AnalyticsStore.js';
import type { TopicPartition } from '../log/Log.js';
import { toClickHouseDateTime } from './RowMappers.js';
import { memberText, parseRound, roundToken } from './SinkRound.js';

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

  /**
   * Recorded cuts of a partition from `fromOffset` on: first offset → last offset and round. A
   * cut recorded before rounds existed (round '') is a round of its own batch. Should a cut ever
   * be recorded twice, the later record is the one that may have been inserted; last and round
   * are taken from that one row, so the round always names the batch as cut.
   */
  async load(tp: TopicPartition, fromOffset: number): Promise<Map<number, { last: number; round: string }>> {
    // Aliases other than the column names: an alias `round` would be read inside the other argMax.
    const rows = await this.store.query<{ first: number; cut_last: number; cut_round: string }>(
      `SELECT first_offset AS first, argMax(last_offset, (created_at, round, last_offset)) AS cut_last,
  argMax(round, (created_at, round, last_offset)) AS cut_round
FROM ${this.store.database}.sink_batches
WHERE sink = {sink:String} AND topic = {topic:String} AND partition = {partition:UInt32} AND last_offset >= {from:UInt64}
GROUP BY first_offset`,
      { sink: this.sink, topic: tp.topic, partition: tp.partition, from: fromOffset },
    );
    return new Map(
      rows.map((row) => {
        const first = Number(row.first);
        const last = Number(row.cut_last);
        return [first, { last, round: row.cut_round || memberText({ ...tp, first, last }) }];
      }),
    );
  }

  /**
   * Records the cut of every member of a round, each naming the round, in one insert. Its token
   * spares a retried identical insert; the round of a batch never changes once proposed, so a
   * retry is always identical.
   */
  async record(round: string): Promise<void> {
    const createdAt = toClickHouseDateTime(Date.now());
    await this.store.insert(
      'sink_batches',
      parseRound(round).map(({ topic, partition, first, last }) => ({
        sink: this.sink, topic, partition, first_offset: first, last_offset: last, round, created_at: createdAt,
      })),
      { dedupToken: `cut:${this.sink}:${roundToken(round)}` },
    );
  }
}

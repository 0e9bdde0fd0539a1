/**
 * The recorded cuts a sink keeps per partition (PartitionBatcher.cuts and .rounds) are what lies
 * ahead of its batching: a cut once taken is never looked up again. They used to keep one entry
 * per batch (and every round's text) for as long as the partition stayed assigned: at a round
 * every SINK_BATCH_LINGER, memory that grew by the hour without bound.
 */
import { partitionKey, type TopicPartition } from '../../log/Log.js';
import { ClickHouseSink, type SinkBatchInfo } from '../../sink/ClickHouseSink.js';
import type { PartitionBatcher } from '../../sink/PartitionBatcher.js';
import { rawEventMapper } from '../../sink/RowMappers.js';
import { waitFor } from './FlakyStore.js';
import { envelope, generateEvents } from './generate.js';
import { logAndChdbPerSuite } from './logAndChdbPerSuite.js';

const TOPIC = 'rounds.cut-memory';
const PARTITIONS = 3;
const EVENTS = 240;
const BATCH = 4;

describe('recorded cuts held by a running sink (embedded log, real chDB)', () => {
  const suite = logAndChdbPerSuite('round-cut-memory');

  test('do not grow with the batches written', async () => {
    await suite.log.ensureTopic(TOPIC, { partitions: PARTITIONS });
    const events = generateEvents(EVENTS, Date.now(), 3, 7);
    await suite.log.produce(events.map((event, i) => ({ topic: TOPIC, partition: i % PARTITIONS, key: null, value: Buffer.from(JSON.stringify(envelope(event))) })));
    const tps: TopicPartition[] = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: TOPIC, partition }));
    const batches: SinkBatchInfo[] = [];
    const sink = new ClickHouseSink({
      log: suite.log,
      store: suite.chdb,
      groupId: 'cut-memory-sink',
      routes: [{ topic: TOPIC, table: 'events_raw', map: rawEventMapper }],
      maxBatchRecords: BATCH,
      lingerMs: 5,
      onBatchInserted: (batch) => void batches.push(batch),
    });
    await sink.start();
    await waitFor('the sink to catch up', async () => {
      const committed = await suite.log.committedOffsets('cut-memory-sink', tps);
      for (const tp of tps) if ((committed.get(partitionKey(tp)) ?? 0) < (await suite.log.endOffset(tp))) return false;
      return true;
    }, 120_000);
    // The sink's partitions, read from inside: what it holds is the point of this test.
    const works = [...(sink as unknown as { work: Map<string, PartitionBatcher> }).work.values()];
    const held = works.map((work) => ({ partition: work.tp.partition, cuts: work.cuts!.size, rounds: work.rounds.size }));
    await sink.stop();
    expect(batches.length).toBeGreaterThanOrEqual(EVENTS / BATCH);
    expect(held).toEqual(tps.map((tp) => ({ partition: tp.partition, cuts: 0, rounds: 0 })));
    const [row] = await suite.chdb.query<{ n: number; distinct: number }>('SELECT count() AS n, uniqExact(partition, offset) AS distinct FROM events_db.events_raw');
    expect({ n: Number(row!.n), distinct: Number(row!.distinct) }).toEqual({ n: EVENTS, distinct: EVENTS });
  }, 180_000);
});

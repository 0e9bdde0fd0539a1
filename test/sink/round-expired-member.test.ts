/**
 * A flush round recorded over two partitions, then the sink down past the topic's retention: one
 * member's records are gone from the log, and that partition gets nothing new. The next sink
 * holds both partitions; the round must still be written (the member that expired cut empty,
 * the other from its records) instead of waiting forever for records that cannot come.
 */
import { partitionKey, type TopicPartition } from '../../log/Log.js';
import type { EmbeddedLog } from '../../log/embedded/index.js';
import type { ChdbStore } from '../../sink/ChdbStore.js';
import { ClickHouseSink } from '../../sink/ClickHouseSink.js';
import { rawEventMapper } from '../../sink/RowMappers.js';
import { parseRound } from '../../sink/SinkRound.js';
import { waitFor } from './FlakyStore.js';
import { envelope, generateEvents } from './generate.js';
import { logAndChdbPerSuite } from './logAndChdbPerSuite.js';
import { TableFaultStore } from './TableFaultStore.js';

const TOPIC = 'rounds.expired';
const GROUP = 'rounds-expired-sink';
const HOUR = 3_600_000;

describe('a recorded round whose member expired from the log (embedded log, real chDB)', () => {
  const suite = logAndChdbPerSuite('round-expired-member');
  const tps: TopicPartition[] = [0, 1].map((partition) => ({ topic: TOPIC, partition }));

  function sink(store: ChdbStore | TableFaultStore) {
    return new ClickHouseSink({
      log: suite.log,
      store,
      groupId: GROUP,
      routes: [{ topic: TOPIC, table: 'events_raw', map: rawEventMapper }],
      maxBatchRecords: 10_000,
      lingerMs: 200,
      retryInitialMs: 20,
      retryMaxMs: 100,
      healthCheckIntervalMs: 50,
    });
  }

  const rows = async () =>
    Number((await suite.chdb.query<{ n: number }>('SELECT count() AS n FROM events_db.events_raw WHERE topic = {topic:String}', { topic: TOPIC }))[0]!.n);

  test('the round is written with the expired member cut empty; both partitions are committed to the end', async () => {
    const log = suite.log as EmbeddedLog;
    await log.ensureTopic(TOPIC, { partitions: 2, retentionMs: HOUR });
    const now = Date.now();
    // Partition 1's records are 30 minutes old, partition 0's new: a retention pass 45 minutes
    // from now removes partition 1's only.
    const events = generateEvents(200, now, 1, 5);
    await log.produce(
      events.map((event, i) => ({ topic: TOPIC, partition: i % 2, timestamp: i % 2 === 1 ? now - HOUR / 2 : now, key: null, value: Buffer.from(JSON.stringify(envelope(event))) })),
    );

    // The first sink records one round over both partitions, and its insert fails.
    const failing = new TableFaultStore(suite.chdb);
    failing.refusedTable = 'events_raw';
    const first = sink(failing);
    await first.start();
    await waitFor('the round to be recorded', async () => (await suite.chdb.query('SELECT round FROM events_db.sink_batches WHERE topic = {topic:String}', { topic: TOPIC })).length > 0);
    await first.stop();
    const [recorded] = await suite.chdb.query<{ round: string }>('SELECT DISTINCT round FROM events_db.sink_batches WHERE topic = {topic:String}', { topic: TOPIC });
    expect(parseRound(recorded!.round).map((member) => member.partition).sort()).toEqual([0, 1]);
    expect(await rows()).toBe(0);

    await log.compactNow({ now: now + (3 * HOUR) / 4 });
    expect(await log.beginningOffset(tps[1]!)).toBe(100);
    expect(await log.beginningOffset(tps[0]!)).toBe(0);

    const second = sink(suite.chdb);
    await second.start();
    try {
      await waitFor('partition 0 to be written', async () => (await rows()) === 100, 20_000);
      await waitFor('both partitions to be committed to the end', async () => {
        const offsets = await log.committedOffsets(GROUP, tps);
        return tps.every((tp) => offsets.get(partitionKey(tp)) === 100);
      });
    } finally {
      await second.stop();
    }
    const written = await suite.chdb.query<{ partition: number; n: number }>(
      'SELECT partition, count() AS n, uniqExact(offset) AS distinct FROM events_db.events_raw WHERE topic = {topic:String} GROUP BY partition',
      { topic: TOPIC },
    );
    expect(written).toEqual([{ partition: 0, n: 100, distinct: 100 }]);
  }, 60_000);
});

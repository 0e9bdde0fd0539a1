/**
 * Two sink instances in one consumer group (the embedded group rebalances as Kafka's does:
 * cooperative and sticky, log/TaskAssignor.ts): the first records a flush round over every
 * partition, puts its events_raw block in and keeps failing at its attempts insert; a second
 * instance joins and takes one member's partition mid-round. The new owner must write the round
 * as recorded (the members it does not hold read back from the log) and commit only its own
 * partition; the first, once ClickHouse answers again, writes the same round (dropped by token)
 * and commits the rest. Every table and the view hold every row once, and no round waits forever.
 */
import { partitionKey, type TopicPartition } from '../../log/Log.js';
import type { ChdbStore } from '../../sink/ChdbStore.js';
import { ClickHouseSink, type SinkBatchInfo } from '../../sink/ClickHouseSink.js';
import { attemptMapper, byEventType, rawEventMapper } from '../../sink/RowMappers.js';
import { parseRound } from '../../sink/SinkRound.js';
import { waitFor } from './FlakyStore.js';
import { envelope, generateEvents } from './generate.js';
import { logAndChdbPerSuite } from './logAndChdbPerSuite.js';
import { TableFaultStore } from './TableFaultStore.js';

const TOPIC = 'rounds.rebalance';
const GROUP = 'rounds-rebalance-sink';
const PARTITIONS = 3;
const EVENTS = 900;

describe('a rebalance moves a member of a flush round to another sink instance (embedded group, real chDB)', () => {
  const suite = logAndChdbPerSuite('round-rebalance');

  const tps: TopicPartition[] = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: TOPIC, partition }));

  function sink(store: ChdbStore | TableFaultStore, batches: SinkBatchInfo[], options: { maxBatchRecords: number; lingerMs: number }) {
    return new ClickHouseSink({
      log: suite.log,
      store,
      groupId: GROUP,
      routes: [
        { topic: TOPIC, table: 'events_raw', map: rawEventMapper },
        { topic: TOPIC, table: 'attempts', map: byEventType('attempt', attemptMapper) },
      ],
      ...options,
      retryInitialMs: 20,
      retryMaxMs: 100,
      healthCheckIntervalMs: 50,
      onBatchInserted: (batch) => void batches.push(batch),
    });
  }

  async function committed(): Promise<Map<string, number>> {
    return suite.log.committedOffsets(GROUP, tps);
  }

  test('the new owner writes the recorded round whole; both commit their own; every row once', async () => {
    await suite.log.ensureTopic(TOPIC, { partitions: PARTITIONS });
    const now = Date.now();
    const values = generateEvents(EVENTS, now, 3, 11).map((event, i) =>
      i % 3 === 0
        ? { event_id: `attempt-${i}`, event_type: 'attempt', source: 'seed000', received_at: now, payload: { client_attempt_id: `attempt-${i}`, user_id: event.user_id, item_id: 'i1', time_taken_ms: 5, timestamp: now - 1000 } }
        : envelope(event),
    );
    const attempts = values.filter((value) => value.event_type === 'attempt').length;
    await suite.log.produce(values.map((value, i) => ({ topic: TOPIC, partition: i % PARTITIONS, key: null, value: Buffer.from(JSON.stringify(value)) })));

    // First instance: one round of every partition, its events_raw block in, attempts failing.
    const failing = new TableFaultStore(suite.chdb);
    failing.refusedTable = 'attempts';
    const firstBatches: SinkBatchInfo[] = [];
    const first = sink(failing, firstBatches, { maxBatchRecords: 10_000, lingerMs: 300 });
    await first.start();
    await waitFor('the first round to fail at attempts', () => /injected for attempts/.test(first.status().lastError ?? ''));
    const [recorded] = await suite.chdb.query<{ round: string }>('SELECT DISTINCT round FROM events_db.sink_batches WHERE topic = {topic:String}', { topic: TOPIC });
    const round = recorded!.round;
    expect(parseRound(round).map((member) => member.partition).sort()).toEqual([0, 1, 2]);
    expect([...(await committed()).values()]).toEqual([]);

    // Second instance joins the group (other batch settings) and takes a partition mid-round.
    const secondBatches: SinkBatchInfo[] = [];
    const second = sink(suite.chdb, secondBatches, { maxBatchRecords: 40, lingerMs: 5 });
    await second.start();
    await waitFor('the second instance to commit its partition', async () => (await committed()).size > 0);
    const taken = [...(await committed()).keys()];
    expect(taken.length).toBeGreaterThan(0);
    expect(taken.length).toBeLessThan(PARTITIONS);
    // It wrote the recorded round (its first batch of each partition it took), not a cut of its own.
    for (const key of taken) {
      const firstOfPartition = secondBatches.find((batch) => partitionKey(batch) === key && batch.firstOffset === 0);
      expect(firstOfPartition?.dedupToken).toBe(round);
    }

    // Its attempts block held the whole round: the members it does not hold were read back.
    const attemptsIn = Number((await suite.chdb.query<{ n: number }>('SELECT count() AS n FROM events_db.attempts WHERE topic = {topic:String}', { topic: TOPIC }))[0]!.n);
    expect(parseRound(round).reduce((sum, member) => sum + member.last - member.first + 1, 0)).toBe(EVENTS);
    expect(attemptsIn).toBe(attempts);

    // ClickHouse answers the first instance again: it writes the same round and commits the rest.
    failing.refusedTable = null;
    await waitFor('every partition to be committed to the end', async () => {
      const offsets = await committed();
      for (const tp of tps) if ((offsets.get(partitionKey(tp)) ?? 0) < (await suite.log.endOffset(tp))) return false;
      return true;
    }, 60_000);
    await second.stop();
    await first.stop();
    expect(firstBatches.filter((batch) => batch.firstOffset === 0).every((batch) => batch.dedupToken === round)).toBe(true);

    const one = async (sql: string) => Number((await suite.chdb.query<{ n: number }>(sql, { topic: TOPIC }))[0]!.n);
    expect({
      raw: await one('SELECT count() AS n FROM events_db.events_raw WHERE topic = {topic:String}'),
      distinct: await one('SELECT uniqExact(partition, offset) AS n FROM events_db.events_raw WHERE topic = {topic:String}'),
      attempts: await one('SELECT count() AS n FROM events_db.attempts WHERE topic = {topic:String}'),
      distinctAttempts: await one('SELECT uniqExact(client_attempt_id) AS n FROM events_db.attempts WHERE topic = {topic:String}'),
      view: await one('SELECT toUInt64(sum(total_events)) AS n FROM events_db.event_metrics_hourly'),
    }).toEqual({ raw: EVENTS, distinct: EVENTS, attempts, distinctAttempts: attempts, view: EVENTS });
  }, 120_000);
});

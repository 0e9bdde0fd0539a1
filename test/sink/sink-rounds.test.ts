/**
 * Flush rounds (sink/SinkRound.ts): the batches of all due partitions go into each table as one
 * block under one token, and a replay after a failure between the table inserts rebuilds the very
 * same blocks, also when one member's partition was already committed past (read back from the log).
 */
import { partitionKey, type TopicPartition } from '../../log/Log.js';
import type { AnalyticsStore } from '../../sink/AnalyticsStore.js';
import { ClickHouseSink, type SinkBatchInfo } from '../../sink/ClickHouseSink.js';
import { attemptMapper, byEventType, rawEventMapper } from '../../sink/RowMappers.js';
import { parseRound } from '../../sink/SinkRound.js';
import { waitFor } from './FlakyStore.js';
import { envelope, generateEvents } from './generate.js';
import { logAndChdbPerSuite } from './logAndChdbPerSuite.js';
import { TableFaultStore } from './TableFaultStore.js';

const PARTITIONS = 3;
const EVENTS_PER_TOPIC = 600;

describe('ClickHouseSink flush rounds on the embedded log and real chDB', () => {
  const suite = logAndChdbPerSuite('sink-rounds');

  const tps = (topic: string): TopicPartition[] => Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));

  /** Product events and seed 000 attempts on every partition of topic; returns the attempts' count. */
  async function produce(topic: string): Promise<number> {
    await suite.log.ensureTopic(topic, { partitions: PARTITIONS });
    const now = Date.now();
    const values = generateEvents(EVENTS_PER_TOPIC, now, 3, topic.length).map((event, i) =>
      i % 3 === 0
        ? { event_id: `${topic}-attempt-${i}`, event_type: 'attempt', source: 'seed000', received_at: now, payload: { client_attempt_id: `${topic}-attempt-${i}`, user_id: event.user_id, item_id: 'i1', time_taken_ms: 5, timestamp: now - 1000 } }
        : envelope(event),
    );
    await suite.log.produce(values.map((value, i) => ({ topic, partition: i % PARTITIONS, key: null, value: Buffer.from(JSON.stringify(value)) })));
    return values.filter((value) => value.event_type === 'attempt').length;
  }

  function sink(store: AnalyticsStore, topic: string, options: { maxBatchRecords: number; lingerMs: number; batches?: SinkBatchInfo[] }) {
    return new ClickHouseSink({
      log: suite.log,
      store,
      groupId: `${topic}-sink`,
      routes: [
        { topic, table: 'events_raw', map: rawEventMapper },
        { topic, table: 'attempts', map: byEventType('attempt', attemptMapper) },
      ],
      maxBatchRecords: options.maxBatchRecords,
      lingerMs: options.lingerMs,
      retryInitialMs: 20,
      retryMaxMs: 100,
      healthCheckIntervalMs: 50,
      onBatchInserted: (batch) => void options.batches?.push(batch),
    });
  }

  async function caughtUp(topic: string): Promise<boolean> {
    const committed = await suite.log.committedOffsets(`${topic}-sink`, tps(topic));
    for (const tp of tps(topic)) if ((committed.get(partitionKey(tp)) ?? 0) < (await suite.log.endOffset(tp))) return false;
    return true;
  }

  async function counts(topic: string) {
    const one = async (sql: string) => (await suite.chdb.query<{ n: number }>(sql, { topic }))[0]!.n;
    return {
      raw: await one('SELECT count() AS n FROM events_db.events_raw WHERE topic = {topic:String}'),
      distinct: await one('SELECT uniqExact(event_id) AS n FROM events_db.events_raw WHERE topic = {topic:String}'),
      attempts: await one('SELECT count() AS n FROM events_db.attempts WHERE topic = {topic:String}'),
      distinctAttempts: await one('SELECT uniqExact(client_attempt_id) AS n FROM events_db.attempts WHERE topic = {topic:String}'),
    };
  }

  async function rounds(topic: string): Promise<string[]> {
    const rows = await suite.chdb.query<{ round: string }>('SELECT DISTINCT round FROM events_db.sink_batches WHERE topic = {topic:String} ORDER BY round', { topic });
    return rows.map((row) => row.round);
  }

  /**
   * A first sink whose attempts inserts fail: its first round (every partition: all records are
   * in the log before it starts, and the linger lets them all arrive) puts its events_raw block
   * in and stops at the attempts insert, as a crash between the table inserts would. Nothing is
   * committed. Returns the round.
   */
  async function failBetweenTables(topic: string): Promise<string> {
    const store = new TableFaultStore(suite.chdb);
    store.refusedTable = 'attempts';
    const first = sink(store, topic, { maxBatchRecords: 10_000, lingerMs: 300 });
    await first.start();
    await waitFor('the attempts insert to fail', () => /injected for attempts/.test(first.status().lastError ?? ''));
    await first.stop({ flush: false });
    const recorded = await rounds(topic);
    expect(recorded).toHaveLength(1);
    expect(parseRound(recorded[0]!).map((member) => member.partition).sort()).toEqual([0, 1, 2]);
    expect((await counts(topic)).raw).toBe(EVENTS_PER_TOPIC);
    expect((await counts(topic)).attempts).toBe(0);
    expect([...(await suite.log.committedOffsets(`${topic}-sink`, tps(topic))).values()]).toEqual([]);
    return recorded[0]!;
  }

  test('a round writes each table once for all partitions; after a failure between its tables it is replayed whole, once', async () => {
    const topic = 'rounds.between-tables';
    const attempts = await produce(topic);
    const round = await failBetweenTables(topic);
    // Other batch settings would cut and combine otherwise: the recorded round wins.
    const store = new TableFaultStore(suite.chdb);
    const batches: SinkBatchInfo[] = [];
    const replay = sink(store, topic, { maxBatchRecords: 50, lingerMs: 5, batches });
    await replay.start();
    await waitFor('the replay to catch up', () => caughtUp(topic));
    await replay.stop();
    expect(batches.map((batch) => batch.dedupToken)).toEqual([round, round, round]);
    // One insert per table for the three partitions; the cut was recorded by the first sink.
    expect(Object.fromEntries(store.inserts)).toEqual({ events_raw: 1, attempts: 1 });
    expect(await counts(topic)).toEqual({ raw: EVENTS_PER_TOPIC, distinct: EVENTS_PER_TOPIC, attempts, distinctAttempts: attempts });
    const mv = await suite.chdb.query<{ n: number }>('SELECT toUInt64(sum(total_events)) AS n FROM events_db.event_metrics_hourly');
    expect(mv[0]!.n).toBe((await suite.chdb.query<{ n: number }>('SELECT count() AS n FROM events_db.events_raw'))[0]!.n);
  });

  test('a round holds at most one batch of records (the memory a block may take), and every event lands once', async () => {
    const topic = 'rounds.bounded';
    const attempts = await produce(topic);
    const batches: SinkBatchInfo[] = [];
    const bounded = sink(new TableFaultStore(suite.chdb), topic, { maxBatchRecords: 90, lingerMs: 5, batches });
    await bounded.start();
    await waitFor('the sink to catch up', () => caughtUp(topic));
    await bounded.stop();
    const perRound = new Map<string, number>();
    for (const batch of batches) perRound.set(batch.dedupToken, (perRound.get(batch.dedupToken) ?? 0) + batch.records);
    expect(Math.max(...perRound.values())).toBeLessThanOrEqual(90);
    expect(await counts(topic)).toEqual({ raw: EVENTS_PER_TOPIC, distinct: EVENTS_PER_TOPIC, attempts, distinctAttempts: attempts });
  });

  test('a member whose partition is already committed past is read back from the log to rebuild the round', async () => {
    const topic = 'rounds.passed-member';
    const attempts = await produce(topic);
    const round = await failBetweenTables(topic);
    // As if partition 1's owner (another instance in Kafka mode) had replayed the round and
    // committed: the sink holding partitions 0 and 2 must still rebuild the round's blocks whole.
    const passed = parseRound(round).find((member) => member.partition === 1)!;
    const committer = suite.log.createConsumer({ groupId: `${topic}-sink` });
    await committer.commitOffsets([{ topic, partition: 1, offset: passed.last + 1 }]);
    await committer.close();
    const batches: SinkBatchInfo[] = [];
    const replay = sink(new TableFaultStore(suite.chdb), topic, { maxBatchRecords: 10_000, lingerMs: 5, batches });
    await replay.start();
    await waitFor('the replay to catch up', () => caughtUp(topic));
    await replay.stop();
    expect(batches.map((batch) => [batch.partition, batch.dedupToken]).sort()).toEqual([[0, round], [2, round]]);
    expect(await counts(topic)).toEqual({ raw: EVENTS_PER_TOPIC, distinct: EVENTS_PER_TOPIC, attempts, distinctAttempts: attempts });
  });
});

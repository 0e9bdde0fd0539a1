import { openKafkaLog } from '../../log/kafka/KafkaLog.js';
import { partitionKey } from '../../log/Log.js';
import { rawEventMapper } from '../../sink/RowMappers.js';
import { ClickHouseSink } from '../../sink/ClickHouseSink.js';
import { queryEventMetrics } from '../../sink/EventMetricsQuery.js';
import { uniqueName } from '../log/log-contract.js';
import { testKafkaBrokers } from '../support/kafka-broker.js';
import { envelope, EVENT_NAMES, expectedMetrics, generateEvents, type ProductEvent } from './generate.js';
import { waitFor } from './FlakyStore.js';
import { crashScenario, poisonCrashScenario } from './crashScenario.js';
import { logAndChdbPerSuite } from './logAndChdbPerSuite.js';

/** The same sink on a real Kafka broker (KafkaLog): the scale-out mode of the log. */
describe('ClickHouseSink on a real Kafka broker and chDB', () => {
  const suite = logAndChdbPerSuite('kafka', { openLog: () => openKafkaLog({ brokers: testKafkaBrokers().split(','), clientId: uniqueName('sink-test') }) });
  const topic = uniqueName('sink-events');
  const groupId = uniqueName('sink-group');
  const tps = [0, 1, 2].map((partition) => ({ topic, partition }));
  const events: ProductEvent[] = [];

  beforeAll(() => suite.log.ensureTopic(topic, { partitions: 3 }));

  async function produce(count: number, seed: number): Promise<void> {
    const batch = generateEvents(count, Date.now(), 6, seed);
    events.push(...batch);
    await suite.log.produce(batch.map((e) => ({ topic, key: Buffer.from(e.user_id), value: Buffer.from(JSON.stringify(envelope(e))) })));
  }

  async function runUntilCaughtUp(maxBatchRecords: number): Promise<void> {
    const sink = new ClickHouseSink({ log: suite.log, store: suite.chdb, routes: [{ topic, table: 'events_raw', map: rawEventMapper }], groupId, maxBatchRecords, lingerMs: 50 });
    await sink.start();
    try {
      await waitFor(
        'the sink to commit every partition to its end',
        async () => {
          const committed = await suite.log.committedOffsets(groupId, tps);
          for (const tp of tps) if ((committed.get(partitionKey(tp)) ?? 0) < (await suite.log.endOffset(tp))) return false;
          return true;
        },
        60_000,
      );
      expect(sink.isReady()).toBe(true);
    } finally {
      await sink.stop();
    }
  }

  test('every event lands once across a restart of the sink, and seed 004 answers match', async () => {
    await produce(3000, 21);
    await runUntilCaughtUp(400);
    await produce(1500, 22);
    await runUntilCaughtUp(250); // a new member of the same group resumes at the committed offsets
    const one = async (sql: string) => (await suite.chdb.query<{ n: number }>(sql))[0]!.n;
    expect(await one('SELECT count() AS n FROM events_db.events_raw')).toBe(4500);
    expect(await one('SELECT uniqExact(event_id) AS n FROM events_db.events_raw')).toBe(4500);
    expect(await one('SELECT toUInt64(sum(total_events)) AS n FROM events_db.event_metrics_hourly')).toBe(4500);
    const to = Math.floor(Date.now() / 1000);
    for (const event_name of EVENT_NAMES) {
      const answer = await queryEventMetrics(suite.chdb, { event_name, from: to - 7 * 3600, to, group_by: 'channel' });
      const expected = expectedMetrics(events, event_name, answer.from, answer.to);
      expect(answer.total_events).toBe(expected.total_events);
      expect(answer.unique_users).toBe(expected.unique_users);
    }
  });
});

crashScenario({
  name: 'kafka',
  topic: uniqueName('crash-events'),
  groupId: uniqueName('crash-group'),
  openLog: () => openKafkaLog({ brokers: testKafkaBrokers().split(','), clientId: uniqueName('crash-inspect') }),
  // The dead member's partitions move to the next child after the session timeout (6 s).
  childEnv: { SINK_KAFKA_BROKERS: testKafkaBrokers() },
});

// Dead letters go in one Kafka transaction with the sink's offsets (EOS v2): a SIGKILL before it
// commits leaves neither, and the next member dead-letters them once.
poisonCrashScenario({
  name: 'kafka',
  topic: uniqueName('crash-events'),
  groupId: uniqueName('crash-group'),
  openLog: () => openKafkaLog({ brokers: testKafkaBrokers().split(','), clientId: uniqueName('crash-inspect') }),
  childEnv: { SINK_KAFKA_BROKERS: testKafkaBrokers() },
});

/**
 * A sink instance that cannot read its group's committed offsets when it is assigned a partition
 * (the coordinator moving, a broker restarting) must not start batching from the first record it
 * fetches. On a transactional input that record can lie past the committed offset (an aborted
 * transaction there is skipped), and the cut the previous owner recorded is keyed by the committed
 * offset: a batch started elsewhere misses it and cuts the same records again under another insert
 * token, doubling the rows the previous owner inserted without committing. The sink reads the
 * committed offsets again before its first cut (sink/ClickHouseSink.ts, learnCommitted).
 */
import { openKafkaLog } from '../../log/kafka/KafkaLog.js';
import { partitionKey, type Log, type LogConsumer, type TopicPartition } from '../../log/Log.js';
import { ClickHouseSink } from '../../sink/ClickHouseSink.js';
import { rawEventMapper } from '../../sink/RowMappers.js';
import { uniqueName } from '../log/log-contract.js';
import { testKafkaBrokers } from '../support/kafka-broker.js';
import { waitFor } from './FlakyStore.js';
import { envelope, generateEvents } from './generate.js';
import { logAndChdbPerSuite } from './logAndChdbPerSuite.js';
import { withMethods } from '../support/with-methods.js';

/** The log, with its group's committed offsets unreadable for the first `failures` reads. */
function committedUnreadable(log: Log, failures: number): { log: Log; failed: () => number } {
  let failed = 0;
  const faulty = withMethods(log, {
    committedOffsets: async (groupId: string, partitions: TopicPartition[]) => {
      if (failed < failures) {
        failed++;
        throw new Error('injected: committed offsets unreadable');
      }
      return log.committedOffsets(groupId, partitions);
    },
  });
  return { log: faulty, failed: () => failed };
}

/** The log, whose consumers' offset commits never succeed (an instance that dies before committing). */
function commitsFail(log: Log): Log {
  return withMethods(log, {
    createConsumer: (options) =>
      withMethods<LogConsumer>(log.createConsumer(options), { commitOffsets: () => Promise.reject(new Error('injected: this instance never commits')) }),
  });
}

describe('a sink instance assigned a partition whose committed offset it cannot read', () => {
  const suite = logAndChdbPerSuite('committed-unread', { openLog: () => openKafkaLog({ brokers: testKafkaBrokers().split(','), clientId: uniqueName('committed-unread') }) });
  const topic = uniqueName('committed-unread');
  const groupId = uniqueName('committed-unread-sink');
  const tp: TopicPartition = { topic, partition: 0 };
  let produced = 0;
  /** Past the last record produced: where the group's offset ends once everything is written. */
  let endOfRecords = 0;

  beforeAll(() => suite.log.ensureTopic(topic, { partitions: 1 }));

  const sinkOn = (on: Log, maxBatchRecords: number, onBatchInserted?: () => void) =>
    new ClickHouseSink({ log: on, store: suite.chdb, routes: [{ topic, table: 'events_raw', map: rawEventMapper }], groupId, maxBatchRecords, lingerMs: 20, retryInitialMs: 20, retryMaxMs: 100, onBatchInserted });
  const values = (count: number, seed: number) => generateEvents(count, Date.now(), 2, seed).map((event) => ({ topic, partition: 0, key: null, value: Buffer.from(JSON.stringify(envelope(event))) }));
  async function produce(count: number, seed: number): Promise<void> {
    const written = await suite.log.produce(values(count, seed));
    produced += count;
    endOfRecords = written[written.length - 1]!.offset + 1;
  }
  const committed = async () => (await suite.log.committedOffsets(groupId, [tp])).get(partitionKey(tp)) ?? 0;

  test('it reads them again before its first cut, replays the recorded cut, and every event lands once', async () => {
    // A commits 100: the committed offset every later cut is keyed by.
    await produce(100, 41);
    const first = sinkOn(suite.log, 50);
    await first.start();
    await waitFor('A to commit its 100 events', async () => (await committed()) === 100, 60_000);
    await first.stop();

    // An aborted transaction at the committed offset: the next record fetched lies past it.
    const producer = await suite.log.createTransactionalProducer(uniqueName('aborted'));
    const aborted = await producer.begin();
    aborted.produce(values(10, 42));
    await aborted.abort();
    await producer.close();
    await produce(100, 43);

    // B records a cut at the committed offset and inserts it, but never commits (it dies first).
    let inserted = 0;
    const second = sinkOn(commitsFail(suite.log), 50, () => void inserted++);
    await second.start();
    await waitFor('B to insert a batch', () => inserted > 0, 60_000);
    await second.stop({ flush: false });
    expect(await committed()).toBe(100);

    // C cannot read the committed offset at assignment; it cuts by 70, not 50, so only a replay of
    // B's recorded cut would carry B's insert token.
    const unreadable = committedUnreadable(suite.log, 1);
    const third = sinkOn(unreadable.log, 70);
    await third.start();
    await waitFor('C to commit to the end', async () => (await committed()) >= endOfRecords, 60_000);
    await third.stop();
    expect(unreadable.failed()).toBe(1);

    const one = async (sql: string) => Number((await suite.chdb.query<{ n: number }>(sql))[0]!.n);
    expect(await one('SELECT uniqExact(event_id) AS n FROM events_db.events_raw')).toBe(produced);
    expect(await one('SELECT count() AS n FROM events_db.events_raw')).toBe(produced);
  }, 180_000);
});

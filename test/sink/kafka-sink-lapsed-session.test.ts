/**
 * A sink instance whose group session lapsed without its knowing (its heartbeats stopped: a paused
 * process, a broker it cannot reach) still holds its partitions in its own eyes, and goes on
 * fetching them. Meanwhile the group gave them to another instance. Neither may write a round the
 * other also writes with different cuts: those rows would be doubled. The lapsed instance must
 * refuse to record a cut it cannot prove it still owns (sink/RoundWriter.ts, the session lease),
 * learn of the loss and rejoin; every event lands once.
 *
 * The lapse is made real, not mocked: instance A's heartbeat interval is far past its session
 * timeout, so the broker expires it a session timeout after it joined while A, idle and then busy,
 * never hears of it until it asks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { openKafkaLog, type KafkaLog } from '../../log/kafka/KafkaLog.js';
import { partitionKey, type TopicPartition } from '../../log/Log.js';
import { ChdbStore } from '../../sink/ChdbStore.js';
import { ClickHouseSink } from '../../sink/ClickHouseSink.js';
import { migrate } from '../../sink/Migrator.js';
import { rawEventMapper } from '../../sink/RowMappers.js';
import { uniqueName } from '../log/log-contract.js';
import { testKafkaBrokers } from '../support/kafka-broker.js';
import { tempDir } from '../support/temp-dir.js';
import { waitFor } from './FlakyStore.js';
import { envelope, generateEvents } from './generate.js';

const PARTITIONS = 2;
const SESSION_TIMEOUT_MS = 2_000;

describe('a sink instance whose Kafka group session lapsed unnoticed', () => {
  const dir = tempDir('lapsed-session');
  const topic = uniqueName('lapsed-events');
  const groupId = uniqueName('lapsed-sink');
  const tps: TopicPartition[] = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));
  const logs: KafkaLog[] = [];
  let store: ChdbStore;

  const openLog = async (heartbeatIntervalMs?: number) => {
    const log = await openKafkaLog({ brokers: testKafkaBrokers().split(','), clientId: uniqueName('lapsed'), sessionTimeoutMs: SESSION_TIMEOUT_MS, heartbeatIntervalMs });
    logs.push(log);
    return log;
  };
  // Different batch sizes, so that the two instances would cut the same records differently: a
  // round both wrote with the same cuts would carry the same insert token and land once anyway.
  const sinkOn = (log: KafkaLog, maxBatchRecords: number, logged: string[] = []) =>
    new ClickHouseSink({ log, store, routes: [{ topic, table: 'events_raw', map: rawEventMapper }], groupId, maxBatchRecords, lingerMs: 20, logger: pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) }) });

  beforeAll(async () => {
    store = await ChdbStore.open({ path: path.join(dir, 'chdb') });
    await migrate(store, { eventsTtlDays: 0 });
  });
  afterAll(async () => {
    for (const log of logs) await log.close().catch(() => undefined);
    await store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  let produced = 0;
  async function produce(count: number, seed: number, admin: KafkaLog): Promise<void> {
    const events = generateEvents(count, Date.now(), 2, seed);
    await admin.produce(events.map((event, i) => ({ topic, partition: i % PARTITIONS, key: null, value: Buffer.from(JSON.stringify(envelope(event))) })));
    produced += count;
  }
  async function committedToEnd(admin: KafkaLog): Promise<boolean> {
    const committed = await admin.committedOffsets(groupId, tps);
    for (const tp of tps) if ((committed.get(partitionKey(tp)) ?? 0) < (await admin.endOffset(tp))) return false;
    return true;
  }

  test('it records no cut once its lease has lapsed, rejoins, and every event lands once', async () => {
    const admin = await openLog();
    await admin.ensureTopic(topic, { partitions: PARTITIONS });
    await produce(400, 31, admin);

    // A: heartbeats every 10 minutes, so its session ends SESSION_TIMEOUT_MS after it joined.
    const lapsingLog: string[] = [];
    const lapsing = sinkOn(await openLog(600_000), 50, lapsingLog);
    await lapsing.start();
    await waitFor('A to write and commit every event', () => committedToEnd(admin), 60_000);

    // B joins; the group waits for A, expires it, and gives B every partition. A does not know.
    const taking = sinkOn(await openLog(), 70);
    await taking.start();
    await waitFor('B to own every partition', () => taking.status().partitions === PARTITIONS, 60_000);
    expect(lapsing.status().partitions).toBe(PARTITIONS);

    // Both fetch these: only one may write them.
    await produce(600, 32, admin);
    await waitFor('A to learn it lost its partitions, or to rejoin', () => lapsing.status().partitions < PARTITIONS, 60_000);
    // A is stopped once it knows: with its heartbeats off it would lapse again after each rejoin,
    // and every rejoin rebalances the group (the lapse itself is what this test is about).
    await lapsing.stop();
    await waitFor('every event committed by the group', () => committedToEnd(admin), 60_000);
    await taking.stop();
    const one = async (sql: string) => Number((await store.query<{ n: number }>(sql))[0]!.n);
    expect(await one('SELECT uniqExact(event_id) AS n FROM events_db.events_raw')).toBe(produced);
    expect(await one('SELECT count() AS n FROM events_db.events_raw')).toBe(produced);
    // The lease held A's round back (and not, say, a commit failure that came first).
    expect(lapsingLog.some((line) => line.includes('group session not confirmed'))).toBe(true);
  }, 180_000);
});

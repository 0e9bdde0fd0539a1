/**
 * Migration 6 (sink rounds) on a data directory written before rounds existed: the old sink
 * recorded its cuts without a round and inserted each batch on its own under the token
 * `topic:partition:first-last`, then died before committing. The new sink, with other batch
 * settings, must replay each old cut as a round of one batch under that very token, so the block
 * already in is dropped, in the table and in the view. Also for a long topic name (a round's text
 * over 200 characters is digested, but an old batch token never was).
 */
import { partitionKey, type TopicPartition } from '../../log/Log.js';
import { batchTables } from '../../sink/BatchRows.js';
import { ClickHouseSink, type SinkBatchInfo } from '../../sink/ClickHouseSink.js';
import { migrate } from '../../sink/Migrator.js';
import { rawEventMapper, toClickHouseDateTime } from '../../sink/RowMappers.js';
import { DEDUP_WINDOW, migrations } from '../../sink/SchemaMigrations.js';
import { waitFor } from './FlakyStore.js';
import { envelope, generateEvents } from './generate.js';
import { logAndChdbPerSuite } from './logAndChdbPerSuite.js';

const PARTITIONS = 2;
const SHORT_TOPIC = 'old.cuts';
const LONG_TOPIC = `old.cuts.${'x'.repeat(190)}`;
const EVENTS = 200;
const OLD_BATCH = 40;

describe('old cut records after migration 6 (embedded log, real chDB)', () => {
  const suite = logAndChdbPerSuite('round-migration', { migrated: false });
  let applied: number[] = [];

  beforeAll(async () => {
    const { chdb } = suite;
    // The schema as the sink before rounds left it: migrations 1-5, as Migrator applies them.
    const db = chdb.database;
    await chdb.exec(`CREATE DATABASE IF NOT EXISTS ${db}`);
    await chdb.exec(`CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (version UInt32, name String, applied_at DateTime64(3, 'UTC'))
ENGINE = MergeTree ORDER BY version SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`);
    for (const migration of migrations({ database: db, eventsTtlDays: 0 }).filter((m) => m.version <= 5)) {
      for (const statement of migration.statements) await chdb.exec(statement);
      await chdb.exec(`INSERT INTO ${db}.schema_migrations SELECT {version:UInt32}, {name:String}, now64(3)`, { version: migration.version, name: migration.name });
    }
    await oldSinkDied(SHORT_TOPIC);
    await oldSinkDied(LONG_TOPIC);
    applied = (await migrate(chdb, { eventsTtlDays: 0 })).applied;
  });

  const tps = (topic: string): TopicPartition[] => Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));
  const groupOf = (topic: string) => `old-${topic.length}`;

  /** What the sink before rounds left: every partition's first cut recorded, partition 0's batch inserted, nothing committed. */
  async function oldSinkDied(topic: string): Promise<void> {
    await suite.log.ensureTopic(topic, { partitions: PARTITIONS });
    const events = generateEvents(EVENTS, Date.now(), 3, topic.length);
    await suite.log.produce(events.map((event, i) => ({ topic, partition: i % PARTITIONS, key: null, value: Buffer.from(JSON.stringify(envelope(event))) })));
    const createdAt = toClickHouseDateTime(Date.now());
    await suite.chdb.insert(
      'sink_batches',
      tps(topic).map((tp) => ({ sink: groupOf(topic), topic, partition: tp.partition, first_offset: 0, last_offset: OLD_BATCH - 1, created_at: createdAt })),
      { dedupToken: `cut:${groupOf(topic)}:${topic}:0:0,${topic}:1:0` },
    );
    const records = await suite.log.read({ topic, partition: 0 }, 0, OLD_BATCH);
    const tables = await batchTables([{ table: 'events_raw', map: rawEventMapper }], records, () => undefined);
    await suite.chdb.insert('events_raw', tables.get('events_raw')!.rows, { dedupToken: `${topic}:0:0-${OLD_BATCH - 1}` });
  }

  async function replay(topic: string): Promise<SinkBatchInfo[]> {
    const batches: SinkBatchInfo[] = [];
    const sink = new ClickHouseSink({
      log: suite.log,
      store: suite.chdb,
      groupId: groupOf(topic),
      routes: [{ topic, table: 'events_raw', map: rawEventMapper }],
      maxBatchRecords: 7,
      lingerMs: 5,
      onBatchInserted: (batch) => void batches.push(batch),
    });
    await sink.start();
    await waitFor('the new sink to catch up', async () => {
      const committed = await suite.log.committedOffsets(groupOf(topic), tps(topic));
      for (const tp of tps(topic)) if ((committed.get(partitionKey(tp)) ?? 0) < (await suite.log.endOffset(tp))) return false;
      return true;
    });
    await sink.stop();
    return batches;
  }

  async function rows(topic: string) {
    const [row] = await suite.chdb.query<{ n: number; distinct: number }>(
      'SELECT count() AS n, uniqExact(partition, offset) AS distinct FROM events_db.events_raw WHERE topic = {topic:String}',
      { topic },
    );
    return { n: Number(row!.n), distinct: Number(row!.distinct) };
  }

  test('migration 6 adds the round column to the old sink_batches', async () => {
    expect(applied).toEqual([6]);
    const [old] = await suite.chdb.query<{ round: string }>('SELECT round FROM events_db.sink_batches WHERE topic = {topic:String} LIMIT 1', { topic: SHORT_TOPIC });
    expect(old!.round).toBe('');
  });

  test.each([
    ['a short topic name', SHORT_TOPIC],
    ['a topic name that makes the round text longer than 200 characters', LONG_TOPIC],
  ])('the old cut in flight replays under its old token, once: %s', async (_, topic) => {
    const batches = await replay(topic);
    const first = batches.filter((batch) => batch.firstOffset === 0).sort((a, b) => a.partition - b.partition);
    expect(await rows(topic)).toEqual({ n: EVENTS, distinct: EVENTS });
    expect(first.map((batch) => [batch.partition, batch.lastOffset, batch.dedupToken])).toEqual([
      [0, OLD_BATCH - 1, `${topic}:0:0-${OLD_BATCH - 1}`],
      [1, OLD_BATCH - 1, `${topic}:1:0-${OLD_BATCH - 1}`],
    ]);
    // The view counts every row of both topics once (it has no topic column).
    const [view] = await suite.chdb.query<{ n: number }>('SELECT toUInt64(sum(total_events)) AS n FROM events_db.event_metrics_hourly');
    const [raw] = await suite.chdb.query<{ n: number }>('SELECT count() AS n FROM events_db.events_raw');
    expect(Number(view!.n)).toBe(Number(raw!.n));
  });
});

import fs from 'node:fs';
import { ChdbStore } from '../../sink/ChdbStore.js';
import { migrate } from '../../sink/Migrator.js';
import { DEDUP_WINDOW } from '../../sink/SchemaMigrations.js';
import { rawEventMapper } from '../../sink/RowMappers.js';
import type { Row } from '../../sink/AnalyticsStore.js';
import { asLogRecord, envelope, generateEvents } from './generate.js';
import { tempDir } from '../support/temp-dir.js';

const TABLES = ['attempts', 'event_metrics_hourly', 'events_raw', 'placements', 'sessions', 'sink_batches', 'window_aggregates'];

describe('ChdbStore and migrations (real chDB)', () => {
  const dir = tempDir('store');
  let store: ChdbStore;

  beforeAll(async () => {
    store = await ChdbStore.open({ path: dir, maxRowsPerInsert: 7 });
  });
  afterAll(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('migrations apply once and are idempotent across restarts', async () => {
    const first = await migrate(store, { eventsTtlDays: 90 });
    expect(first.applied).toEqual([1, 2, 3, 4, 5, 6]);
    await store.close();
    store = await ChdbStore.open({ path: dir, maxRowsPerInsert: 7 });
    const second = await migrate(store, { eventsTtlDays: 90 });
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toEqual([1, 2, 3, 4, 5, 6]);
    const recorded = await store.query<{ version: number }>('SELECT version FROM events_db.schema_migrations ORDER BY version');
    expect(recorded.map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6]);
    const tables = await store.query<{ name: string; engine: string; create_table_query: string }>(
      "SELECT name, engine, create_table_query FROM system.tables WHERE database = 'events_db' ORDER BY name",
    );
    const storage = tables.filter((t) => t.engine !== 'MaterializedView');
    expect(storage.map((t) => t.name)).toEqual([...TABLES, 'schema_migrations'].sort());
    for (const table of storage) expect(table.create_table_query).toContain(`non_replicated_deduplication_window = ${DEDUP_WINDOW}`);
    expect(tables.find((t) => t.name === 'event_metrics_hourly_mv')?.engine).toBe('MaterializedView');
    expect(tables.find((t) => t.name === 'event_metrics_hourly')?.engine).toBe('AggregatingMergeTree');
  });

  test('the raw events TTL follows configuration on every start', async () => {
    const ttlOf = async () =>
      (await store.query<{ q: string }>("SELECT create_table_query AS q FROM system.tables WHERE database = 'events_db' AND name = 'events_raw'"))[0]!.q;
    expect(await ttlOf()).toContain('toIntervalDay(90)');
    await migrate(store, { eventsTtlDays: 14 });
    expect(await ttlOf()).toContain('toIntervalDay(14)');
    await migrate(store, { eventsTtlDays: 0 });
    expect(await ttlOf()).not.toContain('TTL');
  });

  test('an INSERT that would read stdin is refused by exec', async () => {
    await expect(store.exec("INSERT INTO events_db.events_raw (event_id) VALUES ('x')")).rejects.toThrow(/stdin/);
  });

  test('strings survive the insert path byte for byte (quotes, backslashes, control characters, unicode)', async () => {
    const nasty = ["it's", 'back\\slash \\n not a newline', 'line\nbreak\ttab\r', 'nul\u0000byte', '"quoted" {json}', 'ünïcødé 🚀', "'); DROP TABLE x; --"];
    const rows = nasty.map((text, i) => ({ session_id: `nasty-${i}`, user_id: text, topics_practiced: [text, 'x'], session_type: text }));
    await store.insert('sessions', rows, { dedupToken: 'strings:0:0-6' });
    const back = await store.query<{ user_id: string; topics_practiced: string[]; session_type: string }>(
      'SELECT user_id, topics_practiced, session_type FROM events_db.sessions ORDER BY session_id',
    );
    expect(back.map((r) => r.user_id)).toEqual(nasty);
    expect(back.map((r) => r.topics_practiced)).toEqual(nasty.map((text) => [text, 'x']));
    expect(back.map((r) => r.session_type)).toEqual(nasty);
  });

  test("payloads travel as heredoc literals, read back as they were; one holding the heredoc's tag goes escaped", async () => {
    const texts = ['$$', '$streamline_rows', 'streamline_rows$', '$tag$ \\ \' " \n', 'a$streamline_rows$b', "$streamline_rows$'); DROP TABLE x; --"];
    const rows = texts.map((text, i) => ({ session_id: `tagged-${i}`, user_id: text, topics_practiced: [text], session_type: 'tag' }));
    await store.insert('sessions', rows.slice(0, 4), { dedupToken: 'tagged:0:0-3' }); // no tag: a heredoc
    await store.insert('sessions', rows.slice(4), { dedupToken: 'tagged:0:4-5' }); // the tag: sqlString
    const back = await store.query<{ user_id: string; topics_practiced: string[] }>("SELECT user_id, topics_practiced FROM events_db.sessions WHERE session_type = 'tag' ORDER BY session_id");
    expect(back.map((r) => r.user_id)).toEqual(texts);
    expect(back.map((r) => r.topics_practiced)).toEqual(texts.map((text) => [text]));
  });

  test('rows land once per event; a replayed token inserts nothing, in the table and through the MV', async () => {
    const now = Date.now();
    const events = generateEvents(50, now, 3, 7);
    const rows = events.map((e, i) => rawEventMapper(envelope(e), asLogRecord(envelope(e), 'events.raw', 0, i)) as Row);
    // 50 rows in chunks of 7: exercises the per-chunk tokens as well.
    await store.insert('events_raw', rows, { dedupToken: 'events.raw:0:0-49' });
    await store.insert('events_raw', rows, { dedupToken: 'events.raw:0:0-49' });
    const counts = async () => ({
      raw: (await store.query<{ n: number }>('SELECT count() AS n FROM events_db.events_raw'))[0]!.n,
      distinct: (await store.query<{ n: number }>('SELECT uniqExact(event_id) AS n FROM events_db.events_raw'))[0]!.n,
      mv: (await store.query<{ n: number }>('SELECT toUInt64(sum(total_events)) AS n FROM events_db.event_metrics_hourly'))[0]!.n,
    });
    expect(await counts()).toEqual({ raw: 50, distinct: 50, mv: 50 });
    // The token, not the data, decides: the same rows under another token are a new block.
    await store.insert('events_raw', rows.slice(0, 5), { dedupToken: 'events.raw:1:0-4' });
    expect(await counts()).toEqual({ raw: 55, distinct: 50, mv: 55 });
    const [sample] = await store.query<Record<string, unknown>>(
      "SELECT event_id, event_type, event_name, channel, user_id, toUnixTimestamp64Milli(ts) AS ts_ms, tags, metadata, topic, partition, offset FROM events_db.events_raw WHERE event_id = {id:String} LIMIT 1",
      { id: events[3]!.event_id },
    );
    expect(sample).toEqual({
      event_id: events[3]!.event_id,
      event_type: 'product',
      event_name: events[3]!.event_name,
      channel: events[3]!.channel,
      user_id: events[3]!.user_id,
      ts_ms: events[3]!.timestamp,
      tags: ['t1'],
      metadata: '{"product_id":"SKU-1"}',
      topic: 'events.raw',
      partition: 0,
      offset: 3,
    });
  });
});

import fs from 'node:fs';
import type { Row } from '../../sink/AnalyticsStore.js';
import { ChdbStore, type ChdbInsertPath } from '../../sink/ChdbStore.js';
import { classifyInsertError } from '../../sink/InsertErrors.js';
import { migrate } from '../../sink/Migrator.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * ChdbStore's two insert paths (`format`: the rows as a buffer; `select`: the rows as a SQL
 * literal) must be interchangeable on one data directory: the process's stdin decides which one
 * a start takes, and a batch written before a crash may be replayed through the other.
 */
describe('ChdbStore insert paths (real chDB)', () => {
  const dir = tempDir('insert-paths');
  const stores = {} as Record<ChdbInsertPath, ChdbStore>;

  beforeAll(async () => {
    stores.format = await ChdbStore.open({ path: dir, insertPath: 'format', maxRowsPerInsert: 4 });
    stores.select = await ChdbStore.open({ path: dir, insertPath: 'select', maxRowsPerInsert: 4 });
    await migrate(stores.format, { eventsTtlDays: 0 });
  });
  afterAll(async () => {
    await stores.format.close();
    await stores.select.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Text a literal or a line format could trip on: the heredoc tag, quotes, backslashes, raw
  // newlines and tabs, non-ASCII; and two months, so a block spans two partitions.
  const awkward = ['$streamline_rows$', "it's \"quoted\"", 'back\\slash \\n', 'line\nbreak\ttab', 'über 😀 ✓', '{"json":[1,2]}'];
  const rows = (prefix: string): Row[] =>
    awkward.map((text, i) => ({
      event_id: `${prefix}-${i}`,
      event_type: 'product',
      event_name: `name-${prefix}`,
      channel: text,
      user_id: `u${i}`,
      ts: i % 2 ? '2026-11-30 23:59:59.999' : '2026-12-01 00:00:00.000',
      tags: [text, 'b'],
      payload: text,
      offset: i,
    }));

  const read = (prefix: string) =>
    stores.select.query<Row>(
      `SELECT event_id, event_type, event_name, channel, user_id, toString(ts) AS ts, tags, payload, offset FROM events_db.events_raw WHERE event_name = {name:String} ORDER BY offset`,
      { name: `name-${prefix}` },
    );
  const counted = async (prefix: string) => {
    const [metrics] = await stores.select.query<{ n: number }>('SELECT toUInt64(sum(total_events)) AS n FROM events_db.event_metrics_hourly WHERE event_name = {name:String}', { name: `name-${prefix}` });
    return { rows: (await read(prefix)).length, mv: metrics?.n ?? 0 };
  };

  test.each(['format', 'select'] as const)('the %s path stores every value as given', async (path) => {
    const given = rows(path);
    await stores[path].insert('events_raw', given, { dedupToken: `values-${path}` });
    expect(await read(path)).toEqual(given);
  });

  test.each([
    ['format', 'select'],
    ['select', 'format'],
  ] as const)('a block written through %s and replayed through %s under its token is dropped, in the table and its view', async (first, replay) => {
    const prefix = `replay-${first}`;
    await stores[first].insert('events_raw', rows(prefix), { dedupToken: `token-${prefix}` });
    expect(await counted(prefix)).toEqual({ rows: awkward.length, mv: awkward.length });
    await stores[replay].insert('events_raw', rows(prefix), { dedupToken: `token-${prefix}` });
    expect(await counted(prefix)).toEqual({ rows: awkward.length, mv: awkward.length });
    await stores[replay].insert('events_raw', rows(prefix), { dedupToken: `another-${prefix}` });
    expect(await counted(prefix)).toEqual({ rows: 2 * awkward.length, mv: 2 * awkward.length });
  });

  test.each(['format', 'select'] as const)('on the %s path, rows encoded as the sink maps them (encodeRow) and the same rows as objects are one block', async (path) => {
    const prefix = `encoded-${path}`;
    await stores[path].insert('events_raw', rows(prefix).map((row) => stores[path].encodeRow(row)), { dedupToken: `token-${prefix}` });
    expect(await read(prefix)).toEqual(rows(prefix));
    await stores[path].insert('events_raw', rows(prefix), { dedupToken: `token-${prefix}` });
    expect(await counted(prefix)).toEqual({ rows: awkward.length, mv: awkward.length });
  });

  test.each([
    ['format', 'select'],
    ['select', 'format'],
  ] as const)('a block larger than the parser cuts in parallel (15 MB), written through %s, replayed through %s: dropped', async (first, replay) => {
    const prefix = `large-${first}`;
    const payload = 'p'.repeat(1500);
    const large = Array.from({ length: 10_000 }, (_, i) => ({ event_id: `${prefix}-${i}`, event_name: `name-${prefix}`, ts: i % 2 ? '2026-11-30 00:00:00.000' : '2026-12-01 00:00:00.000', payload, offset: i }));
    const big = { format: await ChdbStore.open({ path: dir, insertPath: 'format' }), select: await ChdbStore.open({ path: dir, insertPath: 'select' }) };
    try {
      await big[first].insert('events_raw', large, { dedupToken: `token-${prefix}` });
      await big[replay].insert('events_raw', large, { dedupToken: `token-${prefix}` });
      expect(await counted(prefix)).toEqual({ rows: 10_000, mv: 10_000 });
    } finally {
      await big.format.close();
      await big.select.close();
    }
  });

  test('a table whose column names the raw insert refuses still takes its rows on the format path', async () => {
    await stores.format.exec('CREATE TABLE IF NOT EXISTS events_db.odd_names (`event-id` String, `n` UInt32) ENGINE = MergeTree ORDER BY `event-id`');
    await stores.format.insert('odd_names', [{ 'event-id': 'a', n: 1 }, { 'event-id': 'b', n: 2 }], { dedupToken: 'odd' });
    expect(await stores.format.query('SELECT `event-id` AS id, n FROM events_db.odd_names ORDER BY id')).toEqual([{ id: 'a', n: 1 }, { id: 'b', n: 2 }]);
  });

  test.each(['format', 'select'] as const)('on the %s path a value the column cannot hold is a data error (the sink isolates its row)', async (path) => {
    const bad = [...rows(`bad-${path}`), { event_id: 'bad', event_name: `name-bad-${path}`, offset: 'not a number' }];
    const error = await stores[path].insert('events_raw', bad, { dedupToken: `bad-${path}` }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeDefined();
    expect(classifyInsertError(error)).toBe('data');
  });
});

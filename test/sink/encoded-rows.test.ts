import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Row } from '../../sink/AnalyticsStore.js';
import { batchTables, type SkipReason } from '../../sink/BatchRows.js';
import { rawEventMapper } from '../../sink/RowMappers.js';
import { asLogRecord, envelope, generateEvents } from './generate.js';

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** What ChdbStore.encodeRow does: the row's JSONEachRow line. */
const toLine = (row: Row) => JSON.stringify(row);

describe('rows encoded as they are mapped (AnalyticsStore.encodeRow)', () => {
  const records = generateEvents(300, Date.UTC(2026, 11, 7), 3, 7).map((event, i) => asLogRecord(envelope(event), 'events.clean', 0, i));

  test('are the lines the rows would have been serialized to at the insert, in the same order', async () => {
    const plain = await batchTables([{ table: 'events_raw', map: rawEventMapper }], records, () => undefined, 50);
    const encoded = await batchTables([{ table: 'events_raw', map: rawEventMapper }], records, () => undefined, 50, toLine);
    const rows = plain.get('events_raw')!.rows;
    expect(rows).toHaveLength(records.length);
    expect(encoded.get('events_raw')!.rows).toEqual(rows.map((row) => JSON.stringify(row)));
    expect(encoded.get('events_raw')!.sources).toEqual(plain.get('events_raw')!.sources);
  });

  test('leave no row object alive once mapped: only the lines are held until the insert', async () => {
    const made: Array<WeakRef<Row>> = [];
    const map = (value: unknown, record: Parameters<typeof rawEventMapper>[1]) => {
      const row = rawEventMapper(value, record) as Row;
      made.push(new WeakRef(row));
      return row;
    };
    const held = await batchTables([{ table: 'events_raw', map }], records, () => undefined, 50, toLine);
    // A WeakRef keeps its target until the job that made it ends: collect in a later one.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(held.get('events_raw')!.rows).toHaveLength(records.length);
    expect(made.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
  });

  test('a row that cannot be encoded is skipped as its mapper failing, and the records around it are mapped', async () => {
    const poisoned = 5;
    const map = (value: unknown, record: Parameters<typeof rawEventMapper>[1]) => {
      const row = rawEventMapper(value, record) as Row;
      return record.offset === poisoned ? { ...row, count: 1n } : row;
    };
    const skips: Array<{ reason: SkipReason; offset: number; error: string }> = [];
    const tables = await batchTables([{ table: 'events_raw', map }], records.slice(0, 10), (reason, record, _table, error) => {
      skips.push({ reason, offset: record.offset, error: String(error) });
    }, 50, toLine);
    expect(skips).toEqual([{ reason: 'mapper_error', offset: poisoned, error: expect.stringMatching(/BigInt/) }]);
    expect(tables.get('events_raw')!.sources.map((record) => record.offset)).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9]);
  });
});

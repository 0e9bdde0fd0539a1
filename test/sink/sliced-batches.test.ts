import { describe, expect, test } from '@jest/globals';
import type { LogRecord } from '../../log/Log.js';
import type { Row } from '../../sink/AnalyticsStore.js';
import { batchRows } from '../../sink/BatchRows.js';
import { jsonEachRowBytes, jsonEachRowLiteral, rawStringLiteral } from '../../sink/ChdbStore.js';
import { defaultSinkRoutes } from '../../sink/SinkConfig.js';
import { asLogRecord, envelope, generateEvents } from './generate.js';

// Slicing (EventLoopSlices) must not change a byte: replays rely on the same rows in the same order.
describe('sink batches built in slices', () => {
  const nasty = ["it's", 'back\\slash', 'new\nline', "\\'", '"quoted"', 'tab\t', 'é😀', ''];

  test('the sliced insert literal equals the literal of the whole JSONEachRow payload', async () => {
    for (const count of [0, 1, 999, 1000, 1001, 2500]) {
      const rows: Row[] = Array.from({ length: count }, (_, i) => ({ i, text: nasty[i % nasty.length]! + i, list: [nasty[(i + 3) % nasty.length]!] }));
      const whole = rawStringLiteral(rows.map((row) => JSON.stringify(row)).join('\n'));
      expect(await jsonEachRowLiteral(rows)).toBe(whole);
    }
  });

  test('the payload as bytes is the UTF-8 of the same lines, encoded rows or not, however much the buffer grows', async () => {
    for (const count of [0, 1, 999, 1000, 1001, 2500]) {
      const rows: Row[] = Array.from({ length: count }, (_, i) => ({ i, text: nasty[i % nasty.length]! + i, list: [nasty[(i + 3) % nasty.length]!] }));
      const lines = rows.map((row) => JSON.stringify(row));
      const expected = Buffer.from(lines.join('\n'), 'utf8');
      expect((await jsonEachRowBytes(rows)).equals(expected)).toBe(true);
      // Encoded rows (what the sink inserts: encodeRow's lines), estimated one byte per unit.
      expect((await jsonEachRowBytes(lines)).equals(expected)).toBe(true);
    }
    // Lines of 3-byte characters outgrow the first estimate many times over.
    const wide = Array.from({ length: 1500 }, (_, i) => JSON.stringify({ i, text: '€'.repeat(1 + (i % 50)) }));
    expect((await jsonEachRowBytes(wide)).toString('utf8')).toBe(wide.join('\n'));
  });

  test('a heredoc literal never closes before its text ends (ClickHouse ends it at the first tag after the opening)', () => {
    const tag = '$streamline_rows$';
    for (const text of ['', 'plain', '$$', 'x$streamline_rows', '$streamline_rows', 'streamline_rows$', `a${tag}b`, `ends with ${tag}`]) {
      const literal = rawStringLiteral(text);
      if (literal.startsWith(tag)) {
        // Where the lexer ends it: the first tag after the opening one must be the closing one.
        expect(literal.indexOf(tag, tag.length)).toBe(literal.length - tag.length);
        expect(literal.slice(tag.length, -tag.length)).toBe(text);
      } else {
        expect(literal).toMatch(/^'.*'$/s); // sqlString: escaped, no heredoc
      }
    }
  });

  test('rows mapped in slices of 7 records equal rows mapped in one go, skips included', async () => {
    const routes = defaultSinkRoutes({ rawEvents: 'events.raw' }).filter((route) => route.topic === 'events.raw');
    const records: LogRecord[] = generateEvents(300, Date.now(), 3, 5).map((event, i) => asLogRecord(envelope(event), 'events.raw', 0, i));
    records[17] = { ...records[17]!, value: Buffer.from('not json') };
    const skipped = (into: number[]) => (_reason: string, record: LogRecord) => {
      into.push(record.offset);
    };
    const wholeSkips: number[] = [];
    const slicedSkips: number[] = [];
    const whole = await batchRows(routes, records, skipped(wholeSkips), Number.MAX_SAFE_INTEGER);
    const sliced = await batchRows(routes, records, skipped(slicedSkips), 7);
    expect(sliced).toEqual(whole);
    expect(whole.get('events_raw')).toHaveLength(299);
    expect(slicedSkips).toEqual([17]);
    expect(wholeSkips).toEqual([17]);
  });
});

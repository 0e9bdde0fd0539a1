import fs from 'node:fs';
import path from 'node:path';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import type { AggregateRow } from '../../processors/WindowedAggregations.js';
import { runCrashChild } from '../support/crash-child.js';
import { jsonValues, readAll } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';
import { writeCrashInput } from './fixtures/preaggregation-stream.js';

const CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'preaggregation-app.ts');

const rowId = (row: AggregateRow) => `${row.aggregator}|${row.key}|${row.window_start}`;

interface RunResult {
  stored: Map<string, AggregateRow>;
  /** The last row emitted per window: what the ClickHouse table keeps. */
  final: Map<string, AggregateRow>;
}

async function collect(dir: string): Promise<RunResult> {
  const log = await openEmbeddedLog({ dir: `${dir}/log` });
  const rows = jsonValues<AggregateRow>(await readAll(log, 'aggregates'));
  await log.close();
  const stored = JSON.parse(fs.readFileSync(`${dir}/stores.json`, 'utf8')) as AggregateRow[];
  return { stored: new Map(stored.map((row) => [rowId(row), row])), final: new Map(rows.map((row) => [rowId(row), row])) };
}

const run = (dir: string, kill?: string) => runCrashChild(CHILD, { CRASH_DATA_DIR: dir, ...(kill ? { KILL_IN_TRANSACTION: kill } : {}) });

describe('pre-aggregation across SIGKILL mid-commit (embedded log)', () => {
  let root: string;

  beforeAll(() => {
    root = tempDir('preaggregation-crash');
  });

  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('killed with partials in an uncommitted transaction, then after a commit before the stores flushed: the same aggregates and final rows as an uninterrupted run', async () => {
    const uninterrupted = `${root}/uninterrupted`;
    const crashed = `${root}/crashed`;
    await writeCrashInput(uninterrupted);
    await writeCrashInput(crashed);

    expect(await run(uninterrupted)).toBe(true);
    // Partials forwarded at the commit are in the transaction, which never commits: the input is read again.
    expect(await run(crashed, 'before:8')).toBe(false);
    // The transaction committed (partials, offsets, changelogs) but the stores' checkpoints were not written: restored from the changelogs.
    expect(await run(crashed, 'after:12')).toBe(false);
    expect(await run(crashed)).toBe(true);

    const expected = await collect(uninterrupted);
    const actual = await collect(crashed);
    // The stream has what the test is about: windows of every pre-aggregated aggregator, unique users counted.
    for (const aggregator of ['item_hourly_performance', 'system_5m_throughput', 'jurisdiction_daily_stats', 'event_channel_hourly']) {
      expect([...expected.stored.values()].filter((row) => row.aggregator === aggregator).length).toBeGreaterThan(2);
    }
    expect(expected.stored.get('jurisdiction_daily_stats|jurisdiction:DE|' + Date.UTC(2024, 0, 15))).toMatchObject({ unique_users: 50 });
    expect(actual.stored).toEqual(expected.stored);
    expect(actual.final).toEqual(expected.final);
    expect(expected.final).toEqual(expected.stored);
  }, 300_000);
});

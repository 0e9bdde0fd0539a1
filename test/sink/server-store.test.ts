import fs from 'node:fs';
import path from 'node:path';
import { ClickHouseServerStore, assertSupportedVersion } from '../../sink/ClickHouseServerStore.js';
import { ChdbStore } from '../../sink/ChdbStore.js';
import { analyticsStoreConfigFromEnv } from '../../sink/OpenAnalyticsStore.js';
import { runFixture } from '../support/fixture-process.js';
import { expectedMetrics, generateEvents } from './generate.js';
import { tempDir } from '../support/temp-dir.js';
import { runStoreScenario, type ScenarioResult } from './storeScenario.js';
import { startChdbHttpProcess, type ChdbHttpProcess } from '../support/chdb-http-process.js';

const NOW = Date.now();
const SEED = 5;

function expectScenario(result: ScenarioResult): void {
  expect(result.firstMigration).toEqual([1, 2, 3, 4, 5, 6]);
  expect(result.secondMigration).toEqual([]);
  // 2000 events inserted twice under the same tokens: once in the table and once in the MV.
  expect(result.counts).toEqual({ raw: 2000, distinct: 2000, mv: 2000 });
  // The engine's refusals read the same through either store (chDB's errors, @clickhouse/client's
  // ClickHouseError): an out-of-range DateTime64 (41) and a lone surrogate (25).
  expect(result.poison).toEqual({ refused: [[3, 17], [3, 17]], codes: [41, 25], rowsIn: 18 });
  const events = generateEvents(2000, NOW, 10, SEED);
  for (const answer of result.metrics) {
    const expected = expectedMetrics(events, answer.event_name, answer.from, answer.to);
    expect(answer.total_events).toBe(expected.total_events);
    expect(answer.unique_users).toBe(expected.unique_users);
    const groups = new Map(answer.data.map((g) => [g.group, { total_events: g.total_events, unique_users: g.unique_users }]));
    expect(groups).toEqual(answer.grouped_by === 'channel' ? expected.byChannel : expected.byHour);
  }
}

describe('the same DDL, inserts and queries on both stores', () => {
  const dir = tempDir('server');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('ChdbStore runs the scenario', async () => {
    const store = await ChdbStore.open({ path: path.join(dir, 'chdb') });
    try {
      expectScenario(await runStoreScenario(store, NOW, SEED));
    } finally {
      await store.close();
    }
  });

  test('ClickHouseServerStore (@clickhouse/client, its transport swapped for chDB in-process) runs the scenario', async () => {
    const result = await runFixture('test/sink/fixtures/server-store-child.ts', { STORE_DIR: path.join(dir, 'client'), NOW_MS: String(NOW), SEED: String(SEED) }, { stdin: 'ignore' });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expectScenario(JSON.parse(result.stdout.trim()) as ScenarioResult);
  });
});

test('servers older than 22.3 are refused with a clear message', () => {
  expect(() => assertSupportedVersion('18.16.1')).toThrow('ClickHouse server 18.16.1 is too old: the analytics schema needs 22.3 or newer');
  expect(() => assertSupportedVersion('22.2.9')).toThrow(/too old/);
  expect(() => assertSupportedVersion('22.3.1')).not.toThrow();
  expect(() => assertSupportedVersion('26.7.2.1')).not.toThrow();
});

describe('configuration from seed 004 variables', () => {
  test('CLICKHOUSE_URL or CLICKHOUSE_HOST selects the server, otherwise chDB under the data dir', () => {
    // (and chDB's memory limits from the memory plan: test/sink/chdb-memory.test.ts)
    expect(analyticsStoreConfigFromEnv({}, '/data').config).toMatchObject({ kind: 'chdb', path: '/data/chdb', database: 'events_db', maxRowsPerInsert: 10_000 });
    expect(analyticsStoreConfigFromEnv({ CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_DATABASE: 'analytics' }, '/data').config).toMatchObject({
      kind: 'server', url: 'http://ch:8123', database: 'analytics', username: 'default', password: '', idleSocketTtlMs: 2500,
    });
    const native = analyticsStoreConfigFromEnv({ CLICKHOUSE_HOST: 'ch', CLICKHOUSE_PORT: '9000', CLICKHOUSE_USERNAME: 'u', CLICKHOUSE_PASSWORD: 'p' }, '/data');
    expect(native.config).toMatchObject({ kind: 'server', url: 'http://ch:8123', username: 'u', password: 'p', database: 'events_db' });
    expect(native.warnings[0]).toMatch(/CLICKHOUSE_PORT=9000 is the native protocol port; using the HTTP interface on 8123/);
    expect(() => analyticsStoreConfigFromEnv({ CLICKHOUSE_URL: 'not a url' }, '/data')).toThrow(/CLICKHOUSE_URL="not a url" is not a URL/);
    expect(() => analyticsStoreConfigFromEnv({ CLICKHOUSE_DATABASE: 'x;drop' }, '/data')).toThrow(/CLICKHOUSE_DATABASE/);
  });
});

describe('ClickHouseServerStore over real HTTP against the ClickHouse engine (chDB behind test/support/chdb-http-server.ts)', () => {
  const dir = tempDir('server-http');
  let server: ChdbHttpProcess;
  beforeAll(async () => {
    server = await startChdbHttpProcess(path.join(dir, 'chdb'));
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the scenario: migrations, every batch replayed under its insert_deduplication_token (table and view deduplicated), refused rows isolated', async () => {
    const store = await ClickHouseServerStore.open({ url: server.url, database: 'events_db' });
    try {
      expectScenario(await runStoreScenario(store, NOW, SEED));
      // The server answered with the engine's version, so the version gate ran for real.
      const [row] = await store.query<{ v: string }>('SELECT version() AS v');
      expect(Number(row!.v.split('.')[0])).toBeGreaterThanOrEqual(22);
    } finally {
      await store.close();
    }
  }, 120_000);

  test('a token reused for other rows inserts nothing; a new token inserts; errors arrive as ClickHouseError codes', async () => {
    const store = await ClickHouseServerStore.open({ url: server.url, database: 'tokens_db' });
    try {
      await store.exec('CREATE TABLE tokens_db.t (k String, v UInt32) ENGINE = MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 100');
      await store.insert('t', [{ k: "it's", v: 1 }], { dedupToken: 'batch-1' });
      await store.insert('t', [{ k: 'other', v: 2 }], { dedupToken: 'batch-1' });
      await store.insert('t', [{ k: 'other', v: 2 }], { dedupToken: 'batch-2' });
      expect(await store.query('SELECT k, v FROM tokens_db.t ORDER BY k')).toEqual([{ k: "it's", v: 1 }, { k: 'other', v: 2 }]);
      // The token is the insert's alone: a later insert without one is not deduplicated against it.
      await store.insert('t', [{ k: 'third', v: 3 }], { dedupToken: 'batch-3' });
      expect(await store.query<{ k: string }>('SELECT k FROM tokens_db.t WHERE v = {v:UInt32}', { v: 3 })).toEqual([{ k: 'third' }]);
      await expect(store.query('SELECT missing FROM tokens_db.t')).rejects.toMatchObject({ code: '47', type: 'UNKNOWN_IDENTIFIER' });
    } finally {
      await store.close();
    }
  }, 60_000);
});

const serverUrl = process.env.CLICKHOUSE_URL;
const NOT_RUN =
  'NOT RUN: no ClickHouse server on this machine (CLICKHOUSE_URL is unset). Debian offers only ' +
  'clickhouse-server 18.16.1 (2018), which rejects the schema. The server path over real HTTP runs above against ' +
  'the ClickHouse engine in chDB behind test/support/chdb-http-server.ts; set CLICKHOUSE_URL=http://host:8123 ' +
  '(ClickHouse >= 22.3) to run it against a real server too.';
if (!serverUrl) console.warn(`[test/sink/server-store] ${NOT_RUN}`);

(serverUrl ? describe : describe.skip)(serverUrl ? `a real ClickHouse server at ${serverUrl}` : NOT_RUN, () => {
  test('runs the scenario over HTTP in a throwaway database', async () => {
    const database = `streamline_test_${process.pid}_${Date.now()}`;
    const store = await ClickHouseServerStore.open({ url: serverUrl!, username: process.env.CLICKHOUSE_USERNAME, password: process.env.CLICKHOUSE_PASSWORD, database });
    try {
      expectScenario(await runStoreScenario(store, NOW, SEED));
    } finally {
      await store.exec(`DROP DATABASE IF EXISTS ${database}`);
      await store.close();
    }
  });
});

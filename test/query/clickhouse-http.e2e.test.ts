import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient, ClickHouseError, ClickHouseLogLevel, type ClickHouseClient } from '@clickhouse/client';
import { pino } from 'pino';
import { startService, type RunningService } from '../../app/Service.js';
import { expandMacros, loadDashboard } from './support/grafana.js';

/**
 * Issue 15, end to end: the embedded default pipeline as `npm start` composes it, its read-only
 * ClickHouse HTTP interface, and the official Node client pointed at it unchanged. Seed 004
 * events go in through the public port while the client reads; what it reads equals seed 004's
 * GET /metrics for the same range; writes, DDL, SET, file/url functions, wrong passwords and
 * queries over the limits are refused the way a ClickHouse server refuses them; nothing
 * accepted is lost or doubled.
 */
const EVENT = 'q15_product_view';
const CHANNELS = ['web', 'mobile', 'api'];
const TOTAL = 600;
const ADMIN_TOKEN = 'q15-admin-token-0123456789abcdef';
const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface MetricsAnswer {
  total_events: number;
  unique_users: number;
  data: Array<{ group: string; total_events: number; unique_users: number }>;
}

const metricsOf = async (response: Response) => (await response.json()) as MetricsAnswer;

async function refusal(promise: Promise<unknown>): Promise<ClickHouseError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ClickHouseError) return error;
    throw error;
  }
  throw new Error('expected a ClickHouse error');
}

describe('the read-only ClickHouse HTTP interface over the embedded store', () => {
  let dataDir: string;
  let running: RunningService;
  let client: ClickHouseClient;
  let base: string;
  const now = Date.now();
  // Events span four minutes around an hour boundary in the past: two hour groups, and all within
  // the topology's 5 min grace, so its windows (window_aggregates) count every event whatever the
  // order in which the landing partitions are processed.
  const boundary = Math.floor((now - 300_000) / 3_600_000) * 3_600_000;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-query-http-'));
    running = await startService(
      {
        DATA_DIR: dataDir,
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        SINK_BATCH_LINGER: '50ms',
        CLICKHOUSE_HTTP_USERS: 'analyst:s3cret pass,grafana:other',
        CLICKHOUSE_HTTP_MAX_EXECUTION_TIME: '2s',
        CLICKHOUSE_HTTP_MAX_RESULT_ROWS: '50000',
        ADMIN_TOKEN: ADMIN_TOKEN,
      },
      pino({ level: 'warn' }),
    );
    await running.started;
    base = running.queryAddress!;
    client = createClient({ url: base, username: 'analyst', password: 's3cret pass', database: 'events_db', log: { level: ClickHouseLogLevel.OFF } });
  }, 180_000);

  afterAll(async () => {
    await client?.close();
    await running?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const post = async (i: number) => {
    const response = await fetch(`${running.address}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        event_name: EVENT,
        channel: CHANNELS[i % CHANNELS.length],
        user_id: `user-${i % 37}`,
        timestamp: boundary - 120_000 + Math.floor((i * 240_000) / TOTAL),
        event_id: `q15-${i}`,
        tags: ['t'],
        metadata: { i },
      }),
    });
    expect(response.status).toBe(202);
  };

  const countRaw = async () => {
    const rows = await (await client.query({ query: 'SELECT count() AS n FROM events_raw WHERE event_name = {e:String}', query_params: { e: EVENT }, format: 'JSONEachRow' })).json<{ n: number }>();
    return Number(rows[0]!.n);
  };

  test('ping, GET /?query=, headers a client reads', async () => {
    expect((await client.ping()).success).toBe(true);
    const ping = await fetch(`${base}/ping`);
    expect(await ping.text()).toBe('Ok.\n');
    const get = await fetch(`${base}/?query=${encodeURIComponent('SELECT 1')}`, { headers: { 'X-ClickHouse-User': 'grafana', 'X-ClickHouse-Key': 'other' } });
    expect(get.status).toBe(200);
    expect(await get.text()).toBe('1\n');
    expect(get.headers.get('x-clickhouse-format')).toBe('TabSeparated');
    expect(get.headers.get('x-clickhouse-timezone')).toBeTruthy();
    expect(get.headers.get('x-clickhouse-server-display-name')).toBe(os.hostname());
    expect(JSON.parse(get.headers.get('x-clickhouse-summary')!)).toMatchObject({ read_rows: expect.any(String), written_rows: '0' });
    const named = await client.query({ query: 'SELECT currentDatabase() AS db', format: 'JSONEachRow', query_id: 'q15-fixed-id' });
    expect(named.query_id).toBe('q15-fixed-id');
    expect(await named.json()).toEqual([{ db: 'events_db' }]);
  });

  test('while events are ingested: reads in several formats with parameters equal seed 004 GET /metrics', async () => {
    // Ingest in the background while reading; each read must succeed and counts only grow.
    let posted = 0;
    const ingest = (async () => {
      for (let i = 0; i < TOTAL; i += 20) {
        await Promise.all(Array.from({ length: 20 }, (_, j) => post(i + j)));
        posted += 20;
      }
    })();
    let last = 0;
    while (posted < TOTAL) {
      const seen = await countRaw();
      expect(seen).toBeGreaterThanOrEqual(last);
      last = seen;
      // A query over the time limit is stopped with an error while ingestion goes on.
      if (posted > 0 && posted < TOTAL / 2) {
        const slow = await refusal(client.query({ query: 'SELECT count() FROM system.numbers', format: 'JSON' }));
        expect(slow.code).toBe('159');
        expect(slow.type).toBe('TIMEOUT_EXCEEDED');
      }
    }
    await ingest;
    await waitUntil('every event in events_raw', async () => (await countRaw()) === TOTAL);

    const from = Math.floor(boundary / 1000) - 3600;
    const to = Math.floor(now / 1000) + 3600;
    const metrics = async (groupBy: string) => metricsOf(await fetch(`${running.address}/metrics?event_name=${EVENT}&from=${from}&to=${to}&group_by=${groupBy}`));
    const byChannel = await metrics('channel');
    expect(byChannel.total_events).toBe(TOTAL);
    const params = { event_name: EVENT, from, to };

    // event_metrics_hourly through the client, JSONEachRow with typed parameters.
    const hourlyByChannel = await (
      await client.query({
        query: `SELECT channel, toUInt64(sum(total_events)) AS total_events, toUInt64(uniqExactMerge(unique_users)) AS unique_users
FROM event_metrics_hourly
WHERE event_name = {event_name:String} AND hour >= toStartOfHour(toDateTime({from:UInt32}, 'UTC')) AND hour <= toDateTime({to:UInt32}, 'UTC')
GROUP BY channel ORDER BY total_events DESC, channel ASC`,
        query_params: params,
        format: 'JSONEachRow',
      })
    ).json<{ channel: string; total_events: number; unique_users: number }>();
    expect(hourlyByChannel.map((row) => ({ group: row.channel, total_events: Number(row.total_events), unique_users: Number(row.unique_users) }))).toEqual(byChannel.data);

    // events_raw, CSVWithNames: the same totals from the raw rows.
    const csv = await (
      await client.query({
        query: `SELECT count() AS total_events, uniqExact(user_id) AS unique_users FROM events_raw
WHERE event_name = {event_name:String} AND ts >= toStartOfHour(toDateTime({from:UInt32}, 'UTC')) AND ts <= toDateTime({to:UInt32}, 'UTC')`,
        query_params: params,
        format: 'CSVWithNames',
      })
    ).text();
    expect(csv).toBe(`"total_events","unique_users"\n${byChannel.total_events},${byChannel.unique_users}\n`);

    // By hour, JSONCompact: [hour, events, users] rows equal group_by=hour.
    const byHour = await metrics('hour');
    const compact = await (
      await client.query({
        query: `SELECT formatDateTime(hour, '%Y-%m-%dT%H:00:00Z') AS h, toUInt64(sum(total_events)) AS e, toUInt64(uniqExactMerge(unique_users)) AS u
FROM event_metrics_hourly WHERE event_name = {event_name:String} GROUP BY hour ORDER BY hour`,
        query_params: { event_name: EVENT },
        format: 'JSONCompact',
      })
    ).json<[string, number, number]>();
    expect(compact.data.map(([group, e, u]) => ({ group, total_events: Number(e), unique_users: Number(u) }))).toEqual(byHour.data);

    // window_aggregates (the topology's event_channel_hourly windows), TabSeparatedWithNames.
    const windowSql = `SELECT splitByChar('|', key)[2] AS channel, sum(count) AS total_events
FROM window_aggregates FINAL WHERE aggregator = 'event_channel_hourly' AND splitByChar('|', key)[1] = {event_name:String}
GROUP BY channel ORDER BY total_events DESC, channel ASC`;
    await waitUntil('every event in window_aggregates', async () => {
      const rows = await (await client.query({ query: windowSql, query_params: { event_name: EVENT }, format: 'JSONEachRow' })).json<{ total_events: number }>();
      return rows.reduce((sum, row) => sum + Number(row.total_events), 0) === TOTAL;
    });
    const tsv = await (await client.query({ query: windowSql, query_params: { event_name: EVENT }, format: 'TabSeparatedWithNames' })).text();
    expect(tsv).toBe(['channel\ttotal_events', ...byChannel.data.map((g) => `${g.group}\t${g.total_events}`)].join('\n') + '\n');

    // JSON with meta, and Pretty, written by the engine.
    const json = await (await client.query({ query: 'SELECT {event_name:String} AS e, {to:UInt32} AS t', query_params: params, format: 'JSON' })).json<{ meta: unknown[]; data: unknown[] }>();
    expect(json.meta).toEqual([{ name: 'e', type: 'String' }, { name: 't', type: 'UInt32' }]);
    expect(json.data).toEqual([{ e: EVENT, t: to }]);
    const pretty = await fetch(`${base}/?user=analyst&password=${encodeURIComponent('s3cret pass')}`, { method: 'POST', body: 'SELECT 1 AS a FORMAT Pretty' });
    expect(await pretty.text()).toMatch(/┃ a ┃/);

    // Nothing accepted lost or doubled.
    const exact = await (
      await client.query({ query: 'SELECT count() AS n, uniqExact(event_id) AS ids FROM events_raw WHERE event_name = {e:String}', query_params: { e: EVENT }, format: 'JSONEachRow' })
    ).json<{ n: number; ids: number }>();
    expect(exact.map((row) => [Number(row.n), Number(row.ids)])).toEqual([[TOTAL, TOTAL]]);
  }, 300_000);

  test('every Grafana panel (deploy/grafana) runs against the embedded endpoint; the channel panel equals GET /metrics', async () => {
    const range = { from: Math.floor(boundary / 1000) - 3600, to: Math.floor(now / 1000) + 3600 };
    const dashboard = loadDashboard();
    const variable = await (await client.query({ query: dashboard.templating.list[0]!.query, format: 'JSONEachRow' })).json<{ event_name: string }>();
    expect(variable.map((row) => row.event_name)).toContain(EVENT);
    const results = new Map<string, Array<Record<string, unknown>>>();
    for (const panel of dashboard.panels) {
      const sql = expandMacros(panel.targets[0]!.rawSql, range, { event_name: EVENT });
      results.set(panel.title, await (await client.query({ query: sql, format: 'JSONEachRow' })).json());
    }
    const byChannel = await metricsOf(await fetch(`${running.address}/metrics?event_name=${EVENT}&from=${range.from}&to=${range.to}&group_by=channel`));
    expect(results.get('Events and users by channel')!.map((row) => ({ group: row.channel, total_events: Number(row.events), unique_users: Number(row.unique_users) }))).toEqual(byChannel.data);
    const windows = results.get('Windowed aggregates: event_channel_hourly')!;
    expect(windows.reduce((sum, row) => sum + Number(row.events), 0)).toBe(TOTAL);
  });

  test("/dashboard's analytics read through the same layer on the admin listener: GET /dashboard/query equals GET /metrics", async () => {
    const from = Math.floor(boundary / 1000) - 3600;
    const to = Math.floor(now / 1000) + 3600;
    const sql = `SELECT event_name, channel, toUInt64(sum(total_events)) AS total_events, toUInt64(uniqExactMerge(unique_users)) AS unique_users
FROM event_metrics_hourly WHERE has({names:Array(String)}, event_name) AND hour >= toStartOfHour(toDateTime({from:UInt32}, 'UTC')) AND hour <= toDateTime({to:UInt32}, 'UTC')
GROUP BY event_name, channel ORDER BY total_events DESC, channel ASC`;
    const url = `${running.adminAddress}/dashboard/query?default_format=JSONEachRow&query=${encodeURIComponent(sql)}&param_names=${encodeURIComponent(`['${EVENT}','none\\'s']`)}&param_from=${from}&param_to=${to}`;
    // Behind the admin door's token, not CLICKHOUSE_HTTP_USERS.
    expect((await fetch(url)).status).toBe(401);
    const response = await fetch(url, { headers: adminHeaders });
    expect(response.status).toBe(200);
    const rows = (await response.text()).split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    const byChannel = await metricsOf(await fetch(`${running.address}/metrics?event_name=${EVENT}&from=${from}&to=${to}&group_by=channel`));
    expect(rows.map((row) => ({ group: row.channel, total_events: Number(row.total_events), unique_users: Number(row.unique_users) }))).toEqual(byChannel.data);
    // The same checks as the ClickHouse listener: no writes through the dashboard's door either.
    const refused = await fetch(`${running.adminAddress}/dashboard/query?query=${encodeURIComponent('DROP TABLE events_raw')}`, { headers: adminHeaders });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('x-clickhouse-exception-code')).toBe('164');
  });

  test('hostile parameter values stay values', async () => {
    const hostile = "x' OR 1=1; DROP TABLE events_raw; --\\'\t\n{e:String}";
    const rows = await (await client.query({ query: 'SELECT {s:String} AS s, length({s:String}) AS n', query_params: { s: hostile }, format: 'JSONEachRow' })).json<{ s: string; n: number }>();
    expect(rows).toEqual([{ s: hostile, n: Buffer.byteLength(hostile) }]);
    const list = await (await client.query({ query: 'SELECT {a:Array(String)} AS a', query_params: { a: ["it's", 'back\\slash'] }, format: 'JSONEachRow' })).json();
    expect(list).toEqual([{ a: ["it's", 'back\\slash'] }]);
    const nullable = await (await client.query({ query: 'SELECT {n:Nullable(UInt8)} AS n', query_params: { n: null }, format: 'JSONEachRow' })).json();
    expect(nullable).toEqual([{ n: null }]);
    const notANumber = await refusal(client.query({ query: 'SELECT {n:UInt32} AS n', query_params: { n: '1 OR 1=1' }, format: 'JSONEachRow' }));
    expect(notANumber.message).toMatch(/parse|UInt32/i);
    const missing = await refusal(client.query({ query: 'SELECT {missing:String}', format: 'JSONEachRow' }));
    expect(missing.type).toBe('UNKNOWN_QUERY_PARAMETER');
    expect(await countRaw()).toBe(TOTAL);
  });

  test.each([
    ["INSERT INTO events_raw (event_id) VALUES ('x')", 'READONLY'],
    ['ALTER TABLE events_raw DELETE WHERE 1', 'READONLY'],
    ['DROP TABLE events_raw', 'READONLY'],
    ['CREATE TABLE t (a UInt8) ENGINE = Memory', 'READONLY'],
    ['SET max_execution_time = 0', 'READONLY'],
    ['SYSTEM FLUSH LOGS', 'READONLY'],
    ['OPTIMIZE TABLE events_raw FINAL', 'READONLY'],
    ['KILL QUERY ALL', 'READONLY'],
    ["SELECT * FROM file('/etc/passwd', 'LineAsString')", 'ACCESS_DENIED'],
    ["SELECT file('/etc/hostname')", 'ACCESS_DENIED'],
    ["SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')", 'ACCESS_DENIED'],
    ["SELECT * FROM s3('http://127.0.0.1:1/x.csv')", 'ACCESS_DENIED'],
    ["SELECT * FROM remote('127.0.0.1', system.one)", 'ACCESS_DENIED'],
    ['SELECT * FROM system.disks', 'ACCESS_DENIED'],
    ['SELECT * FROM system.tables', 'ACCESS_DENIED'],
    ['SELECT name, data_paths FROM system.tables', 'ACCESS_DENIED'],
    ['SELECT 1; DROP TABLE events_raw', 'SYNTAX_ERROR'],
    ['SELECT 1 SETTINGS readonly = 0', 'READONLY'],
    ['SELECT 1 SETTINGS max_execution_time = 0', 'SETTING_CONSTRAINT_VIOLATION'],
    ['SELECT * FROM (SELECT 1 SETTINGS max_result_rows = 1000000000)', 'SETTING_CONSTRAINT_VIOLATION'],
    ['SELECT 1 SETTINGS allow_ddl = 1', 'READONLY'],
    ['SELECT 1 INTO OUTFILE \'/tmp/x\'', 'READONLY'],
  ])('refused like a server refuses it: %s', async (sql, type) => {
    const error = await refusal(client.command({ query: sql }));
    expect(error.type).toBe(type);
  });

  test('refusals on the wire: status, X-ClickHouse-Exception-Code, body', async () => {
    const response = await fetch(`${base}/`, { method: 'POST', body: 'DROP TABLE events_raw', headers: { Authorization: `Basic ${Buffer.from('analyst:s3cret pass').toString('base64')}` } });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-clickhouse-exception-code')).toBe('164');
    expect(await response.text()).toMatch(/^Code: 164\. DB::Exception: .*\(READONLY\) \(version [^)]+\)\n$/);
    const settingsInUrl = await fetch(`${base}/?query=SELECT%201&max_execution_time=0`, { headers: { 'X-ClickHouse-User': 'analyst', 'X-ClickHouse-Key': 's3cret pass' } });
    expect(settingsInUrl.headers.get('x-clickhouse-exception-code')).toBe('452');
    expect(await countRaw()).toBe(TOTAL);
  });

  test('a wrong password, an unknown user and no credentials are refused', async () => {
    for (const [username, password] of [['analyst', 'wrong'], ['nobody', 's3cret pass'], ['default', '']]) {
      const other = createClient({ url: base, username, password, log: { level: ClickHouseLogLevel.OFF } });
      const error = await refusal(other.query({ query: 'SELECT 1', format: 'JSONEachRow' }));
      expect(error.code).toBe('516');
      expect(error.type).toBe('AUTHENTICATION_FAILED');
      await other.close();
    }
    const anonymous = await fetch(`${base}/?query=SELECT%201`);
    expect(anonymous.status).toBe(401);
  });

  test('result limits stop a query with an error; a lower limit of the reader applies', async () => {
    const tooMany = await refusal(client.query({ query: 'SELECT number FROM numbers(100000)', format: 'JSONEachRow' }));
    expect(tooMany.type).toBe('TOO_MANY_ROWS_OR_BYTES');
    const union = await refusal(client.query({ query: 'SELECT number FROM numbers(40000) UNION ALL SELECT number FROM numbers(40000)', format: 'JSONEachRow' }));
    expect(union.type).toBe('TOO_MANY_ROWS_OR_BYTES');
    const lowered = await refusal(client.query({ query: 'SELECT number FROM numbers(20)', format: 'JSONEachRow', clickhouse_settings: { max_result_rows: '10' } }));
    expect(lowered.type).toBe('TOO_MANY_ROWS_OR_BYTES');
  });

  test('a failed read leaves nothing behind for the sink or seed 004 (chDB keeps a failed result for the next query)', async () => {
    // JSON writes its header and footer even when the query fails, and chDB prepends them to the
    // next result on that connection: not the sink's (the reads have their own), and not the
    // next read's (the reader drains after a failure).
    for (let i = 0; i < 3; i++) {
      await refusal(client.query({ query: 'SELECT throwIf(number = 3000) FROM numbers(5000) SETTINGS max_block_size = 100', format: 'JSON' }));
      expect(await (await client.query({ query: 'SELECT 7 AS seven', format: 'JSON' })).json()).toMatchObject({ data: [{ seven: 7 }], rows: 1 });
      const metrics = await fetch(`${running.address}/metrics?event_name=${EVENT}&from=0&to=${Math.floor(now / 1000) + 3600}`);
      expect(metrics.status).toBe(200);
      expect((await metricsOf(metrics)).total_events).toBe(TOTAL);
      const rows = await running.analyticsSql<{ n: number }>('SELECT count() AS n FROM events_db.events_raw WHERE event_name = {e:String}', { e: EVENT });
      expect(rows).toEqual([{ n: TOTAL }]);
    }
  });

  test('compressed responses: gzip with enable_http_compression=1, and through the client', async () => {
    const response = await fetch(`${base}/?enable_http_compression=1&query=${encodeURIComponent('SELECT number FROM numbers(1000) FORMAT JSONEachRow')}`, {
      headers: { 'Accept-Encoding': 'gzip', 'X-ClickHouse-User': 'analyst', 'X-ClickHouse-Key': 's3cret pass' },
    });
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect((await response.text()).split('\n').filter(Boolean)).toHaveLength(1000);
    const compressing = createClient({ url: base, username: 'analyst', password: 's3cret pass', compression: { response: true, request: true } });
    const rows = await (await compressing.query({ query: 'SELECT sum(number) AS s FROM numbers(1000)', format: 'JSONEachRow' })).json();
    expect(rows).toEqual([{ s: 499500 }]);
    await compressing.close();
  });

  test('SHOW, DESCRIBE, EXISTS and the catalog a dashboard tool browses', async () => {
    const tables = await (await client.query({ query: 'SHOW TABLES', format: 'JSONEachRow' })).json<{ name: string }>();
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['events_raw', 'window_aggregates', 'event_metrics_hourly']));
    const columns = await (await client.query({ query: 'DESCRIBE TABLE event_metrics_hourly', format: 'JSONEachRow' })).json<{ name: string }>();
    expect(columns.map((c) => c.name)).toEqual(['event_name', 'channel', 'hour', 'total_events', 'unique_users']);
    expect(await (await client.query({ query: 'EXISTS TABLE window_aggregates', format: 'JSONEachRow' })).json()).toEqual([{ result: 1 }]);
    const catalog = await (
      await client.query({ query: "SELECT name, engine FROM system.tables WHERE database = 'events_db' AND name = 'events_raw'", format: 'JSONEachRow' })
    ).json();
    expect(catalog).toEqual([{ name: 'events_raw', engine: 'MergeTree' }]);
  });
});

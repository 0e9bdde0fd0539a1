import { ConfigError } from '../../config/index.js';
import { ClickHouseHttpError } from '../../query/ClickHouseErrors.js';
import { readQueryListenerConfig } from '../../query/QueryListenerConfig.js';
import { parameterSql, unescapeEscaped } from '../../query/QueryParameters.js';
import { readRequest } from '../../query/ReadRequest.js';

const limits = { maxExecutionTimeSeconds: 30, maxResultRows: 1000, maxResultBytes: 1_000_000, maxMemoryUsage: 1_000_000_000 };
const request = (query: string, extra: Record<string, string> = {}) =>
  readRequest({ params: new URLSearchParams({ query, ...extra }), body: '', limits, database: 'events_db', maxQueryBytes: 65_536 });
const refused = (query: string, extra: Record<string, string> = {}): ClickHouseHttpError => {
  try {
    request(query, extra);
  } catch (error) {
    if (error instanceof ClickHouseHttpError) return error;
    throw error;
  }
  throw new Error(`not refused: ${query}`);
};

describe('what a read becomes', () => {
  test('FORMAT and SETTINGS are taken off the end; limits and readonly=1 go last', () => {
    const read = request('SELECT 1 AS a SETTINGS max_threads = 2 FORMAT JSONEachRow;');
    expect(read.format.name).toBe('JSONEachRow');
    expect(read.sql).toBe(
      "SELECT 1 AS a\nSETTINGS max_threads = 2, max_execution_time = 30, max_result_rows = 1000, max_result_bytes = 1000000, max_memory_usage = 1000000000, result_overflow_mode = 'throw', timeout_overflow_mode = 'throw', readonly = 1",
    );
  });

  test('default_format, then TabSeparated; FORMAT in the query wins', () => {
    expect(request('SELECT 1').format.name).toBe('TabSeparated');
    expect(request('SELECT 1', { default_format: 'csvwithnames' }).format.name).toBe('CSVWithNames');
    expect(request('SELECT 1 FORMAT JSON', { default_format: 'CSV' }).format.name).toBe('JSON');
    expect(refused('SELECT 1 FORMAT Template').codeName).toBe('UNKNOWN_FORMAT');
  });

  test('keywords inside literals, quoted identifiers and comments are not statements', () => {
    expect(request("SELECT 'DROP TABLE x; INSERT' AS `FORMAT`, \"SETTINGS\" -- ; DELETE\nFROM t /* ; ALTER */").kind).toBe('select');
    expect(refused("SELECT ';' ; DROP TABLE t").codeName).toBe('SYNTAX_ERROR');
  });

  test('a UNION is read through a subquery so the limits cover all of it', () => {
    expect(request('SELECT 1 UNION ALL SELECT 2').sql).toMatch(/^SELECT \* FROM \(\nSELECT 1 UNION ALL SELECT 2\n\)\nSETTINGS /);
  });

  test.each([
    ['file', "SELECT * FROM FILE('/etc/passwd')"],
    ['quoted table function', "SELECT * FROM `url`('http://x')"],
    ['s3Cluster', "SELECT * FROM s3Cluster('c', 'http://x')"],
    ['icebergS3', "SELECT * FROM icebergS3('http://x')"],
    ['merge over system', "SELECT * FROM merge('system', '.*')"],
    ['system.query_log', 'SELECT query FROM system.query_log'],
    ['system.tables path', 'SELECT metadata_path FROM system.tables'],
    ['tuple(*) on system.databases', 'SELECT tuple(*) FROM system.databases'],
    ['COLUMNS() on system.parts', "SELECT COLUMNS('.*') FROM system.parts"],
    ['SHOW PROCESSLIST', 'SHOW FULL PROCESSLIST'],
  ])('refused: %s', (_what, sql) => {
    expect(refused(sql).codeName).toBe('ACCESS_DENIED');
  });

  test('settings: readonly ones refused, limits only lowered, HTTP-only ones dropped', () => {
    expect(refused('SELECT 1', { allow_ddl: '1' }).codeName).toBe('READONLY');
    expect(refused('SELECT 1', { max_result_rows: '1001' }).codeName).toBe('SETTING_CONSTRAINT_VIOLATION');
    expect(refused('SELECT 1 SETTINGS format_template_resultset = \'/etc/passwd\'').codeName).toBe('READONLY');
    expect(refused('SELECT 1 SETTINGS output_format_schema = \'/tmp/x\'').codeName).toBe('READONLY');
    const read = request('SELECT 1', { max_result_rows: '10', wait_end_of_query: '1', output_format_json_quote_64bit_integers: '0' });
    expect(read.sql).toContain('max_result_rows = 10,');
    expect(read.sql).toContain('output_format_json_quote_64bit_integers = 0');
    expect(read.sql).not.toContain('wait_end_of_query');
  });

  test('statements that are not reads are refused before the engine sees them', () => {
    for (const sql of ['INSERT INTO t VALUES (1)', 'ALTER TABLE t DELETE WHERE 1', 'SET a = 1', 'SYSTEM RELOAD CONFIG', 'USE system', 'GRANT ALL ON *.* TO x', 'EXCHANGE TABLES a AND b']) {
      expect(refused(sql).codeName).toBe('READONLY');
    }
  });

  test('databases other than the store, system and default are unknown', () => {
    expect(refused('SELECT 1', { database: 'other' }).codeName).toBe('UNKNOWN_DATABASE');
    expect(request('SELECT 1', { database: 'events_db' }).kind).toBe('select');
  });
});

describe('query parameters', () => {
  test('strings arrive as escaped text and become one escaped literal', () => {
    expect(unescapeEscaped("a\\'b\\\\c\\td\\x41")).toBe("a'b\\c\tdA");
    expect(parameterSql('s', 'String', "x\\' OR 1=1 --")).toBe("_CAST('x\\' OR 1=1 --', 'String')");
  });

  test('other types are cast from the literal text; Nullable \\N is NULL; identifiers are checked', () => {
    expect(parameterSql('n', 'UInt32', '1); DROP TABLE t; --')).toBe("_CAST('1); DROP TABLE t; --', 'UInt32')");
    expect(parameterSql('n', 'Nullable(UInt8)', '\\N')).toBe("_CAST(NULL, 'Nullable(UInt8)')");
    expect(parameterSql('t', 'Identifier', 'events_db.events_raw')).toBe('`events_db`.`events_raw`');
    expect(() => parameterSql('t', 'Identifier', 'x`; DROP')).toThrow(/Identifier/);
  });

  test('an identifier parameter cannot smuggle a denied system table past the guard', () => {
    expect(refused('SELECT * FROM {t:Identifier}', { param_t: 'system.disks' }).codeName).toBe('ACCESS_DENIED');
  });
});

describe('listener configuration', () => {
  test('no password is allowed only on a loopback bind', () => {
    expect(readQueryListenerConfig({}, ['sink'])?.users).toEqual(new Map([['default', '']]));
    expect(() => readQueryListenerConfig({ CLICKHOUSE_HTTP_HOST: '0.0.0.0' }, ['sink'])).toThrow(ConfigError);
    expect(() => readQueryListenerConfig({ CLICKHOUSE_HTTP_HOST: '0.0.0.0', CLICKHOUSE_HTTP_USERS: 'a:x,b:' }, ['sink'])).toThrow(/b have no password/);
    expect(readQueryListenerConfig({ CLICKHOUSE_HTTP_HOST: '0.0.0.0', CLICKHOUSE_HTTP_USERS: 'a:x' }, ['sink'])?.host).toBe('0.0.0.0');
  });

  test('off, without the sink role, or with a ClickHouse server as the store: no listener', () => {
    expect(readQueryListenerConfig({ CLICKHOUSE_HTTP_PORT: 'off' }, ['sink'])).toBeUndefined();
    expect(readQueryListenerConfig({}, ['ingress', 'topology'])).toBeUndefined();
    expect(readQueryListenerConfig({ CLICKHOUSE_URL: 'http://ch:8123' }, ['sink'])).toBeUndefined();
    expect(readQueryListenerConfig({}, ['sink'])?.port).toBe(8123);
    expect(readQueryListenerConfig({ PORT: '0' }, ['sink'])?.port).toBe(0);
    expect(() => readQueryListenerConfig({ CLICKHOUSE_HTTP_MAX_EXECUTION_TIME: '10ms' }, ['sink'])).toThrow(/at least 1s/);
  });
});

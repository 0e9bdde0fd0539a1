/**
 * A ClickHouse HTTP endpoint with writes, over chDB (the ClickHouse 26.x engine in-process), for
 * tests of the server sink path (sink/ClickHouseServerStore.ts through @clickhouse/client).
 * No ClickHouse server >= 22.3 installs on these machines (Debian ships 18.16), so this is the
 * real engine behind the real HTTP protocol the client speaks: query in the URL or the body,
 * insert data in the body after the URL's INSERT ... FORMAT, settings and param_* in the URL,
 * errors as "Code: N. DB::Exception: ... (NAME)" with X-ClickHouse-Exception-Code.
 *
 * Run as its own process (chDB holds one engine per process, and a crash test must be able to
 * SIGKILL a sink while the "server" keeps its data):
 *   CHDB_HTTP_PATH=<dir> [CHDB_HTTP_PORT=0] node --import tsx test/support/chdb-http-server.ts
 * It prints `listening http://127.0.0.1:<port>` on stdout once it answers.
 * stdin must be closed or /dev/null: chDB reads the host's stdin for `INSERT ... FORMAT` (chdb-core #239).
 *
 * Not the query/ read-only interface: that one refuses writes and SET by design; this one serves
 * a single trusted test client and accepts everything (no users, no quotas).
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { gunzipSync, inflateSync, brotliDecompressSync } from 'node:zlib';
import { Session } from 'chdb';
import { errorBody, fromEngineError, ClickHouseHttpError } from '../../query/ClickHouseErrors.js';
import { substituteParameters } from '../../query/QueryParameters.js';
import { settingLiteral } from '../../query/QuerySettings.js';
import { tokenize } from '../../query/SqlTokens.js';

/** URL parameters that are the request's, not engine settings. */
const REQUEST_PARAMETERS = new Set(['query', 'database', 'default_format', 'query_id', 'user', 'password', 'quota_key', 'buffer_size', 'stacktrace', 'role', 'compress', 'decompress']);
/** Settings only an HTTP server has; chDB refuses them as unknown. */
const HTTP_ONLY = new Set([
  'wait_end_of_query', 'send_progress_in_http_headers', 'http_headers_progress_interval_ms', 'enable_http_compression', 'http_zlib_compression_level',
  'http_response_buffer_size', 'http_wait_end_of_query', 'cancel_http_readonly_queries_on_client_close', 'add_http_cors_header',
  'session_id', 'session_timeout', 'session_check',
]);
const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VERSION = '26.7.0.0 (chDB)';

function decode(body: Buffer, encoding: string | undefined): Buffer {
  if (!encoding || encoding === 'identity') return body;
  if (encoding === 'gzip') return gunzipSync(body);
  if (encoding === 'deflate') return inflateSync(body);
  if (encoding === 'br') return brotliDecompressSync(body);
  throw new ClickHouseHttpError(1001, 'STD_EXCEPTION', `Unsupported Content-Encoding ${encoding}`, 400);
}

/** The statement text: the URL's query followed by the body (ClickHouse joins them with a newline). */
export function statementText(urlQuery: string | null, body: string): string {
  if (urlQuery === null) return body;
  return body.length > 0 ? `${urlQuery}\n${body}` : urlQuery;
}

export interface ChdbHttpServer {
  url: string;
  close(): Promise<void>;
}

export async function startChdbHttpServer(options: { path: string; port?: number; host?: string }): Promise<ChdbHttpServer> {
  const session = new Session(options.path);
  // One statement at a time: settings and the database are session state, set before and reset after.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  async function execute(sql: string, settings: Map<string, string>, database: string | null, format: string): Promise<{ bytes: Buffer; rows: number; bytesRead: number }> {
    return serial(async () => {
      const applied: string[] = [];
      try {
        for (const [name, value] of settings) {
          await session.queryAsync(`SET ${name} = ${settingLiteral(value)}`, { format: 'CSV' });
          applied.push(name);
        }
        if (database) await session.queryAsync(`USE ${database}`, { format: 'CSV' });
        const result = await session.queryAsync(sql, { format });
        return { bytes: Buffer.from(result.bytes()), rows: result.rowsRead, bytesRead: result.bytesRead };
      } finally {
        for (const name of applied) await session.queryAsync(`SET ${name} = DEFAULT`, { format: 'CSV' }).catch(() => undefined);
        if (database) await session.queryAsync('USE default', { format: 'CSV' }).catch(() => undefined);
      }
    });
  }

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const queryId = new URL(request.url ?? '/', 'http://x').searchParams.get('query_id') ?? randomUUID();
      const headers = { 'X-ClickHouse-Server-Display-Name': 'chdb-http', 'X-ClickHouse-Query-Id': queryId, 'X-ClickHouse-Timezone': 'UTC', Connection: 'keep-alive' };
      const fail = (error: unknown) => {
        const ch = fromEngineError(error);
        response.writeHead(ch.httpStatus, { ...headers, 'Content-Type': 'text/plain; charset=UTF-8', 'X-ClickHouse-Exception-Code': String(ch.code) });
        response.end(errorBody(ch, VERSION));
      };
      try {
        const url = new URL(request.url ?? '/', 'http://x');
        if (url.pathname === '/ping' || (url.pathname === '/' && request.method === 'GET' && !url.searchParams.has('query'))) {
          response.writeHead(200, { ...headers, 'Content-Type': 'text/plain; charset=UTF-8' });
          response.end('Ok.\n');
          return;
        }
        if (url.pathname !== '/') throw new ClickHouseHttpError(36, 'BAD_ARGUMENTS', `There is no handle ${url.pathname}`, 404);
        const body = decode(Buffer.concat(chunks), request.headers['content-encoding']).toString('utf8');
        const settings = new Map<string, string>();
        const params = new Map<string, string>();
        for (const [name, value] of url.searchParams) {
          if (name.startsWith('param_')) params.set(name.slice('param_'.length), value);
          else if (!REQUEST_PARAMETERS.has(name) && !HTTP_ONLY.has(name)) {
            if (!SETTING_NAME.test(name)) throw new ClickHouseHttpError(115, 'UNKNOWN_SETTING', `Unknown setting ${name}`);
            settings.set(name, value);
          }
        }
        let sql = statementText(url.searchParams.get('query'), body);
        // Placeholders live in the statement, never in insert data after FORMAT (the client sends none there).
        if (params.size > 0) sql = substituteParameters(tokenize(sql), params);
        const database = url.searchParams.get('database');
        if (database !== null && !SETTING_NAME.test(database)) throw new ClickHouseHttpError(81, 'UNKNOWN_DATABASE', `Database ${database} does not exist`);
        const format = url.searchParams.get('default_format') ?? 'TabSeparated';
        execute(sql, settings, database, format).then(
          (result) => {
            const summary = { read_rows: String(result.rows), read_bytes: String(result.bytesRead), written_rows: '0', written_bytes: '0', total_rows_to_read: '0', result_rows: '0', result_bytes: '0', elapsed_ns: '0' };
            response.writeHead(200, { ...headers, 'Content-Type': 'text/plain; charset=UTF-8', 'X-ClickHouse-Format': format, 'X-ClickHouse-Summary': JSON.stringify(summary) });
            response.end(result.bytes);
          },
          fail,
        );
      } catch (error) {
        fail(error);
      }
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await queue;
      session.close();
    },
  };
}

// As a process: serve until SIGTERM.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!) && process.env.CHDB_HTTP_PATH) {
  const served = await startChdbHttpServer({ path: process.env.CHDB_HTTP_PATH, port: Number(process.env.CHDB_HTTP_PORT ?? 0) });
  process.stdout.write(`listening ${served.url}\n`);
  process.on('SIGTERM', () => void served.close().then(() => process.exit(0)));
}

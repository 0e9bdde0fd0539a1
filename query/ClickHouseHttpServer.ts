import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { ChdbReader } from './ChdbReader.js';
import { ClickHouseHttpError, errorBody } from './ClickHouseErrors.js';
import { authenticate, credentialsOf } from './HttpAuth.js';
import type { QueryListenerConfig } from './QueryListenerConfig.js';
import { readRequest } from './ReadRequest.js';

export interface ClickHouseHttpServerOptions {
  config: QueryListenerConfig;
  reader: ChdbReader;
  /** The embedded store's database (events_db). */
  database: string;
  /** The engine's version() and timezone(), sent as a server sends them. */
  engine: () => { version: string; timezone: string };
  registry: Registry;
  logger: Logger;
}

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const brotli = promisify(zlib.brotliCompress);
const OK = 'Ok.\n';

type Outcome = 'ok' | 'refused' | 'auth_failed' | 'bad_request' | 'limit' | 'busy' | 'engine_error';

function outcomeOf(error: ClickHouseHttpError): Outcome {
  if (error.code === 516) return 'auth_failed';
  if (error.code === 164 || error.code === 497 || error.code === 452) return 'refused';
  if (error.code === 159 || error.code === 396 || error.code === 241 || error.code === 158) return 'limit';
  if (error.code === 202 || error.httpStatus === 503) return 'busy';
  if (error.httpStatus < 500) return 'bad_request';
  return 'engine_error';
}

/** The request body as text, decompressed when the client compressed it (Content-Encoding). */
function decodeBody(request: FastifyRequest, maxBytes: number): string {
  const body = request.body;
  if (!Buffer.isBuffer(body) || body.length === 0) return '';
  const encoding = String(request.headers['content-encoding'] ?? '').toLowerCase();
  const limit = { maxOutputLength: maxBytes + 1 };
  try {
    if (encoding === 'gzip') return zlib.gunzipSync(body, limit).toString('utf8');
    if (encoding === 'deflate') return zlib.inflateSync(body, limit).toString('utf8');
    if (encoding === 'br') return zlib.brotliDecompressSync(body, limit).toString('utf8');
  } catch (error) {
    throw new ClickHouseHttpError(354, 'CANNOT_DECOMPRESS', `Cannot decompress the request body (${encoding}): ${(error as Error).message}`, 400);
  }
  if (encoding !== '' && encoding !== 'identity') throw new ClickHouseHttpError(36, 'BAD_ARGUMENTS', `Unknown Content-Encoding: ${encoding}`, 400);
  return body.toString('utf8');
}

async function compress(bytes: Uint8Array, acceptEncoding: string): Promise<{ body: Uint8Array; encoding?: string }> {
  const accepted = acceptEncoding.toLowerCase().split(',').map((item) => item.split(';')[0]!.trim());
  if (accepted.includes('gzip')) return { body: await gzip(bytes), encoding: 'gzip' };
  if (accepted.includes('deflate')) return { body: await deflate(bytes), encoding: 'deflate' };
  if (accepted.includes('br')) return { body: await brotli(bytes), encoding: 'br' };
  return { body: bytes };
}

/**
 * ClickHouse's HTTP interface, read-only, over the embedded chDB store: GET/POST / with the query,
 * GET /ping, GET / without a query ("Ok."). Headers and errors as a server sends them, so
 * @clickhouse/client, curl recipes and Grafana's ClickHouse data source (HTTP protocol) work as
 * they are.
 */
export function buildClickHouseHttpServer(options: ClickHouseHttpServerOptions): FastifyInstance {
  const { config, reader, registry, logger } = options;
  const requests = new Counter({
    name: 'streamline_query_http_requests_total',
    help: 'Queries on the read-only ClickHouse HTTP interface, by outcome (ok, refused, auth_failed, bad_request, limit, busy, engine_error)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const app = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // Compressed bodies are limited again after decompression (decodeBody).
    bodyLimit: config.maxQueryBytes,
    keepAliveTimeout: 10_000,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const displayName = os.hostname();
  const baseHeaders = (queryId?: string) => {
    const engine = options.engine();
    return {
      'X-ClickHouse-Server-Display-Name': displayName,
      ...(queryId ? { 'X-ClickHouse-Query-Id': queryId } : {}),
      'X-ClickHouse-Timezone': engine.timezone,
      'Keep-Alive': 'timeout=10',
    };
  };

  const sendError = (reply: FastifyReply, error: ClickHouseHttpError, queryId?: string) => {
    requests.inc({ outcome: outcomeOf(error) });
    return reply
      .code(error.httpStatus)
      .headers({ ...baseHeaders(queryId), 'X-ClickHouse-Exception-Code': String(error.code), 'Content-Type': 'text/plain; charset=UTF-8' })
      .send(errorBody(error, options.engine().version));
  };

  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    const params = new URL(request.url, 'http://x').searchParams;
    const queryId = params.get('query_id') || randomUUID();
    try {
      authenticate(credentialsOf(request.headers, params), config.users);
      const body = request.method === 'POST' ? decodeBody(request, config.maxQueryBytes) : '';
      if (request.method === 'GET' && !params.has('query') && body === '') return reply.headers(baseHeaders()).type('text/plain; charset=UTF-8').send(OK);
      const read = readRequest({
        params,
        body,
        databaseHeader: request.headers['x-clickhouse-database'] as string | undefined,
        formatHeader: request.headers['x-clickhouse-format'] as string | undefined,
        limits: config.limits,
        database: options.database,
        maxQueryBytes: config.maxQueryBytes,
      });
      const result = await reader.read(read.sql, read.format.name);
      const summary = {
        read_rows: String(result.rowsRead),
        read_bytes: String(result.bytesRead),
        written_rows: '0',
        written_bytes: '0',
        total_rows_to_read: String(result.rowsRead),
        result_rows: '0',
        result_bytes: String(result.bytes.length),
        elapsed_ns: String(Math.round(result.elapsedSeconds * 1e9)),
      };
      const { body: payload, encoding } = read.compression ? await compress(result.bytes, String(request.headers['accept-encoding'] ?? '')) : { body: result.bytes };
      requests.inc({ outcome: 'ok' });
      return reply
        .headers({
          ...baseHeaders(queryId),
          'X-ClickHouse-Format': read.format.name,
          'X-ClickHouse-Summary': JSON.stringify(summary),
          'Content-Type': read.format.contentType,
          ...(encoding ? { 'Content-Encoding': encoding, Vary: 'Accept-Encoding' } : {}),
        })
        .send(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
    } catch (error) {
      if (error instanceof ClickHouseHttpError) return sendError(reply, error, queryId);
      logger.error({ err: error }, 'query interface failed');
      return sendError(reply, new ClickHouseHttpError(1001, 'STD_EXCEPTION', (error as Error).message), queryId);
    }
  };

  app.get('/', handle);
  app.post('/', handle);
  app.get('/ping', async (_request, reply) => reply.headers(baseHeaders()).type('text/plain; charset=UTF-8').send(OK));
  app.get('/replicas_status', async (_request, reply) => reply.type('text/plain; charset=UTF-8').send(OK));
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new ClickHouseHttpError(36, 'BAD_ARGUMENTS', `There is no handle ${request.url.split('?')[0]}. Use / for queries, /ping for health`, 404)),
  );
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    if (error.statusCode === 413) return sendError(reply, new ClickHouseHttpError(62, 'SYNTAX_ERROR', `Max query size exceeded (${config.maxQueryBytes} bytes, CLICKHOUSE_HTTP_MAX_QUERY_SIZE)`, 413));
    return sendError(reply, new ClickHouseHttpError(1001, 'STD_EXCEPTION', error.message, error.statusCode ?? 500));
  });
  return app;
}

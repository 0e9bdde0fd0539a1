import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { ChdbReader } from './ChdbReader.js';
import { ClickHouseHttpError, errorBody } from './ClickHouseErrors.js';
import { authenticate, credentialsOf } from './HttpAuth.js';
import type { QueryListenerConfig } from './QueryListenerConfig.js';
import { readRequest } from './ReadRequest.js';

export interface ReadHandlerOptions {
  config: QueryListenerConfig;
  reader: ChdbReader;
  /** The embedded store's database (events_db). */
  database: string;
  /** The engine's version() and timezone(), sent as a server sends them. */
  engine: () => { version: string; timezone: string };
  registry: Registry;
  logger: Logger;
  /**
   * Check CLICKHOUSE_HTTP_USERS (the ClickHouse listener). False where another door already did
   * (the dashboard's route on the admin listener, behind ADMIN_TOKEN).
   */
  authenticateUsers: boolean;
}

const OK = 'Ok.\n';

function requestCounter(registry: Registry): Counter<'outcome'> {
  const name = 'streamline_query_http_requests_total';
  return (
    (registry.getSingleMetric(name) as Counter<'outcome'> | undefined) ??
    new Counter({
      name,
      help: 'Reads through the ClickHouse HTTP query layer (port 8123 and the dashboard), by outcome (ok, refused, auth_failed, bad_request, limit, busy, engine_error)',
      labelNames: ['outcome'],
      registers: [registry],
    })
  );
}

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const brotli = promisify(zlib.brotliCompress);

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
 * One read over HTTP, as ClickHouse answers it: the query from ?query= and the body, the statement
 * checked (ReadRequest), run on the reads' own connection (ChdbReader), the engine's bytes sent
 * with the X-ClickHouse-* headers, compressed when asked; any failure as a ClickHouse error.
 */
export function createReadHandler(options: ReadHandlerOptions) {
  const { config, reader, registry, logger } = options;
  const requests = requestCounter(registry);
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
      if (options.authenticateUsers) authenticate(credentialsOf(request.headers, params), config.users);
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

  return { handle, sendError, baseHeaders, OK };
}

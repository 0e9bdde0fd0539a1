import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './HttpError.js';
import type { InFlightBudget } from './InFlightBudget.js';
import { meterStreamedBodies, meteredBody } from './StreamedBodyBudget.js';
import { keepRawBody, keepRawLines } from './RawEventText.js';

export const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines', 'application/json-seq'];

/** Marks a body that arrived as NDJSON (one event per line). */
export const NDJSON_BODY = Symbol('ndjson');

/**
 * Counts inflated bytes and fails with 413 past the route's body limit, so a zip bomb costs
 * at most limit bytes of inflation. receivedEncodedLength is what fastify compares with
 * Content-Length once the body ends.
 */
class InflateLimit extends Transform {
  receivedEncodedLength = 0;
  private inflated = 0;

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.inflated += chunk.length;
    if (this.inflated > this.limit) {
      callback(new HttpError(413, `inflated request body exceeds ${this.limit} bytes`, 'too_large'));
      return;
    }
    callback(null, chunk);
  }
}

function decompressor(encoding: string): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | null {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      return null;
  }
}

/** Content-Encoding (gzip, deflate, br) and NDJSON bodies for the ingest routes of one plugin scope. */
export function registerBodyDecoding(scope: FastifyInstance): void {
  const runtime = (scope as { ingress?: { budget: InFlightBudget; config: { retryAfterSeconds: number } } }).ingress;
  if (runtime) meterStreamedBodies(scope, runtime.budget, runtime.config.retryAfterSeconds);
  scope.addHook('preParsing', async (request: FastifyRequest, _reply, payload) => {
    const header = request.headers['content-encoding'];
    if (header === undefined) return meteredBody(request, payload);
    const encoding = header.trim().toLowerCase();
    if (encoding === '' || encoding === 'identity') return meteredBody(request, payload);
    const inflate = decompressor(encoding);
    if (!inflate) throw new HttpError(415, `unsupported Content-Encoding "${header}" (use gzip, deflate or br)`, 'unsupported');
    const limited = new InflateLimit(request.routeOptions.bodyLimit ?? 1024 * 1024);
    payload.on('data', (chunk: Buffer) => {
      limited.receivedEncodedLength += chunk.length;
    });
    inflate.on('error', (error) => {
      limited.destroy(new HttpError(400, `request body is not valid ${encoding}: ${error.message}`, 'invalid_json'));
    });
    limited.on('error', () => {
      // Stop inflating: the rest of a bomb is never expanded.
      payload.unpipe(inflate);
      inflate.destroy();
    });
    payload.pipe(inflate).pipe(limited);
    return meteredBody(request, limited, true);
  });

  // Plain JSON.parse instead of fastify's secure-json-parse: its __proto__/constructor scans
  // cost ~15% of a batch request, and the ingress never merges a payload into another object
  // (it only validates and re-serialises it), so a "__proto__" key is just data here.
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if ((body as string).length === 0) {
      done(new HttpError(400, 'request body is empty', 'invalid_json'), undefined);
      return;
    }
    try {
      const parsed: unknown = JSON.parse(body as string);
      keepRawBody(request, body as string);
      done(null, parsed);
    } catch (error) {
      done(new HttpError(400, `invalid JSON: ${(error as Error).message}`, 'invalid_json'), undefined);
    }
  });

  scope.addContentTypeParser(NDJSON_TYPES, { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    const events: unknown[] = [];
    const lines: string[] = [];
    let start = 0;
    let line = 0;
    while (start <= text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      line++;
      const chunk = text.slice(start, end).trim();
      start = end + 1;
      if (chunk.length === 0) continue;
      try {
        events.push(JSON.parse(chunk));
        lines.push(chunk);
      } catch (error) {
        done(new HttpError(400, `invalid JSON on NDJSON line ${line}: ${(error as Error).message}`, 'invalid_json'), undefined);
        return;
      }
    }
    (events as unknown as Record<symbol, boolean>)[NDJSON_BODY] = true;
    keepRawLines(request, lines);
    done(null, events);
  });
}

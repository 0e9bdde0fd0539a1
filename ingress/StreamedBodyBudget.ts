import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './HttpError.js';
import type { InFlightBudget } from './InFlightBudget.js';

/**
 * What the ingest scope reserves up front for a body without Content-Length (chunked): a
 * guess, since nothing says how long the body will be. The bytes that then actually stream in
 * are reserved here as they arrive, so a chunked or compressed body counts its real size.
 * routes/ingest-scope.ts reserves Content-Length, or this, in its onRequest hook.
 */
export const UNKNOWN_LENGTH_RESERVATION = 16 * 1024;

/** Reservations grow in steps of at least this, so a body of small chunks is not a call per chunk. */
const STEP = 64 * 1024;

const EXTRA = Symbol('ingressStreamedBytesReserved');
type Metered = FastifyRequest & { [EXTRA]?: number };

interface Meter {
  budget: InFlightBudget;
  retryAfterSeconds: number;
}
const METER = Symbol('ingressStreamedBodyMeter');
type ScopedRequest = FastifyRequest & { [METER]?: Meter };

/**
 * Counts the bytes a body really brings and reserves what the up-front reservation did not
 * cover, refusing with 503 + Retry-After the moment the in-flight budget is spent. Before this,
 * a chunked body without Content-Length held 16 KB of the budget whatever its size, and a gzip
 * body held its compressed size while its inflated text (up to INGRESS_MAX_BODY_BYTES) sat in
 * memory.
 */
class BodyMeter extends Transform {
  private seen = 0;

  constructor(
    private readonly request: Metered,
    private readonly meter: Meter,
    private reserved: number,
    private readonly source: { receivedEncodedLength?: number },
  ) {
    super();
  }

  /** fastify checks Content-Length against this when the stream has it (BodyDecoding's InflateLimit counts it). */
  get receivedEncodedLength(): number | undefined {
    return this.source.receivedEncodedLength;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.reserved) {
      const step = Math.max(STEP, this.seen - this.reserved);
      if (!this.meter.budget.tryGrow(this.reserved, step)) {
        callback(new HttpError(503, 'ingress is overloaded; retry later', 'overloaded', [], this.meter.retryAfterSeconds));
        return;
      }
      this.reserved += step;
      this.request[EXTRA] = (this.request[EXTRA] ?? 0) + step;
    }
    callback(null, chunk);
  }
}

/** Hooks of one ingest scope: remember the budget for preParsing, release what the meter reserved. */
export function meterStreamedBodies(scope: FastifyInstance, budget: InFlightBudget, retryAfterSeconds: number): void {
  const meter: Meter = { budget, retryAfterSeconds };
  const release = (request: Metered) => {
    const extra = request[EXTRA];
    if (extra) {
      request[EXTRA] = 0;
      budget.release(extra);
    }
  };
  scope.addHook('onRequest', (request: ScopedRequest, _reply, done) => {
    request[METER] = meter;
    done();
  });
  scope.addHook('onResponse', (request: Metered, _reply, done) => {
    release(request);
    done();
  });
  scope.addHook('onRequestAbort', (request: Metered, done) => {
    release(request);
    done();
  });
}

/**
 * The body stream, metered when its size is not already reserved: no Content-Length (chunked),
 * or `decoded` (an inflated body, whose Content-Length is the compressed size).
 */
export function meteredBody<T extends NodeJS.ReadableStream>(request: FastifyRequest, payload: T, decoded = false): T | Transform {
  const meter = (request as ScopedRequest)[METER];
  if (!meter) return payload;
  const declared = Number(request.headers['content-length']);
  if (declared > 0 && !decoded) return payload;
  const metered = new BodyMeter(request, meter, declared > 0 ? declared : UNKNOWN_LENGTH_RESERVATION, payload as { receivedEncodedLength?: number });
  payload.on('error', (error) => metered.destroy(error));
  // Refused: stop reading, the rest of the body is never buffered.
  metered.on('error', () => payload.unpipe(metered));
  return payload.pipe(metered);
}

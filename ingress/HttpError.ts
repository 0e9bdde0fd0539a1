import type { FieldError } from './SchemaCatalog.js';
import type { RejectReason } from './IngressMetrics.js';
import { NamedError } from '../errors/NamedError.js';

/** An error answered with a status; each seed adapter renders it in its own body shape. */
export class HttpError extends NamedError {
  /** Set when the rejection was already counted in the metrics (by the ingest core). */
  counted = false;

  constructor(
    readonly statusCode: number,
    message: string,
    readonly reason: RejectReason,
    readonly fields: FieldError[] = [],
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** Maps anything thrown on an ingest route (ours, fastify's body parsing, zlib) to an HttpError. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const err = error as { statusCode?: number; code?: string; message?: string; name?: string };
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  const message = err.message ?? 'internal error';
  if (status === 413) return new HttpError(413, 'request body is too large', 'too_large');
  if (status === 415) return new HttpError(415, message, 'unsupported');
  if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new HttpError(400, 'request body is empty', 'invalid_json');
  if (status === 400 && (err.name === 'SyntaxError' || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || /JSON/i.test(message))) {
    return new HttpError(400, `invalid JSON: ${message}`, 'invalid_json');
  }
  if (status >= 400 && status < 500) return new HttpError(status, message, 'invalid_json');
  return new HttpError(500, 'internal error', 'internal');
}

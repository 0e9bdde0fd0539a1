import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { HttpError } from '../HttpError.js';
import type { PreparedEvent, Rejection } from '../IngestCore.js';
import { rawEventTexts, rawSingleText } from '../RawEventText.js';
import { toWellFormed } from '../EventShape.js';
import { type IngestDeps, prepareIngestScope } from './ingest-scope.js';
import { ingestKeyName } from './ingest-key-name.js';

/**
 * Seed 004 (product events): POST /events → 202 {"status":"accepted"} exactly (the event id is
 * in the X-Event-Id header, X-Duplicate: true for a repeat); POST /events/bulk → 202
 * {status, count, duplicates, event_ids}, 207 with per-index errors when some are invalid, 400
 * when none is valid. Errors: {"error": "<message naming the field>"}.
 */
function render(error: HttpError) {
  const message = error.fields.length > 0 ? error.fields.map((field) => field.message).join('; ') : error.message;
  return { error: message };
}

const ACCEPTED = JSON.stringify({ status: 'accepted' });

/**
 * Header values must be visible ASCII; any other id is percent-encoded in X-Event-Id.
 * encodeURIComponent throws on a lone surrogate: that once turned a written event's 202 into a
 * 500. prepare() refuses such ids now, and toWellFormed keeps this from ever throwing after a write.
 */
const headerSafe = (id: string) => (/^[\x20-\x7e]*$/.test(id) ? id : encodeURIComponent(toWellFormed(id)));

export const productRoutes: FastifyPluginAsync<IngestDeps> = async (scope: FastifyInstance, deps: IngestDeps) => {
  const route = deps.metrics.forRoute('product');
  prepareIngestScope(scope, deps, route, render);
  const { core, catalog, config } = deps;
  const kind = catalog.kind('product', 'product');
  if (!kind) throw new Error('schema product-event (x-source product, x-event-type product) is missing');

  scope.post('/events', async (request, reply) => {
    const receivedAt = Date.now();
    let body = request.body as unknown;
    let raw: string | undefined;
    if (Array.isArray(body) && body.length === 1) {
      body = body[0];
      raw = rawEventTexts(request, 1)?.[0];
    } else {
      raw = rawSingleText(request);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new HttpError(400, 'request body must be a JSON object', 'validation');
    }
    // Validate first: the rate limiter keys a bucket on the user id, so only a valid one may name it.
    const result = core.prepare(kind, body, 0, receivedAt, request.headers['idempotency-key'] as string | undefined, raw);
    const admitted = core.admit(request, 'value' in result ? result.key : undefined);
    if (admitted) await admitted;
    if (!('value' in result)) {
      await core.commit([], [result], { route, source: 'product', dlq: false, receivedAt });
      throw core.singleEventError(result);
    }
    const outcome = await core.commit([result], [], { route, source: 'product', dlq: false, receivedAt, sourceKey: ingestKeyName(request) });
    reply.code(202).header('content-type', 'application/json; charset=utf-8').header('x-event-id', headerSafe(result.eventId));
    if (outcome.statuses[0] === 'duplicate') reply.header('x-duplicate', 'true');
    return reply.send(ACCEPTED);
  });

  scope.post('/events/bulk', async (request, reply) => {
    const receivedAt = Date.now();
    const body = request.body as unknown;
    const events = Array.isArray(body) ? body : (body as { events?: unknown } | null)?.events;
    if (!Array.isArray(events)) throw new HttpError(400, 'body must be an array of events or {"events": [...]}', 'validation');
    if (events.length === 0) throw new HttpError(400, 'events must not be empty', 'validation');
    if (events.length > config.maxBulkEvents) {
      throw new HttpError(413, `too many events: ${events.length} (max ${config.maxBulkEvents})`, 'batch_too_large');
    }
    const admitted = core.admit(request, undefined);
    if (admitted) await admitted;
    const prepared: PreparedEvent[] = [];
    const rejections: Rejection[] = [];
    const texts = rawEventTexts(request, events.length);
    for (let i = 0; i < events.length; i++) {
      const result = core.prepare(kind, events[i], i, receivedAt, undefined, texts?.[i]);
      if ('value' in result) prepared.push(result);
      else rejections.push(result);
    }
    const errors = rejections.map((rejection) => ({
      index: rejection.index,
      error: `events[${rejection.index}]: ${rejection.errors.map((error) => error.message).join('; ')}`,
    }));
    if (prepared.length === 0) {
      await core.commit([], rejections, { route, source: 'product', dlq: false, receivedAt });
      reply.code(400);
      return { error: errors.map((error) => error.error).join('; '), errors };
    }
    const outcome = await core.commit(prepared, rejections, { route, source: 'product', dlq: false, receivedAt, sourceKey: ingestKeyName(request) });
    reply.code(rejections.length === 0 ? 202 : 207);
    return {
      status: rejections.length === 0 ? 'accepted' : 'partial',
      count: prepared.length,
      accepted: prepared.length,
      duplicates: outcome.duplicates,
      rejected: rejections.length,
      event_ids: prepared.map((event) => event.eventId),
      ...(rejections.length > 0 ? { errors } : {}),
    };
  });
};

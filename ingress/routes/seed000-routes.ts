import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { HttpError } from '../HttpError.js';
import type { PreparedEvent, Rejection } from '../IngestCore.js';
import { rawEventTexts, rawSingleText } from '../RawEventText.js';
import type { EventKind } from '../SchemaCatalog.js';
import { type IngestDeps, elapsedMs, prepareIngestScope } from './ingest-scope.js';
import { ingestKeyName } from './ingest-key-name.js';

/**
 * Seed 000 (learning event ingestion): POST /api/v1/events/{attempt,session,placement,batch}.
 * Any schema with x-source "seed000" adds POST /api/v1/events/<its x-event-type>.
 * Batch bodies: an array or {events: [...]} of bare events (type inferred) or
 * {event_type|type, data} wrappers, or {attempts: [...], sessions: [...], placements: [...]}.
 *
 * Success: 202 {success, event_id, event_type, status: accepted|duplicate, duplicate, processing_time_ms, message}.
 * Errors: {error, details: [{field, message}]} with 400 (validation), 413, 415, 429, 503.
 */
function render(error: HttpError) {
  return { success: false, error: error.message, details: error.fields, ...(error.retryAfterSeconds ? { retry_after: error.retryAfterSeconds } : {}) };
}

/** Seed 000's batch items: {event_type|type, data|payload|event} wrappers, or bare events whose type is inferred. */
function unwrap(item: unknown, deps: IngestDeps): { kind?: EventKind; event: unknown } {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return { event: item };
  const record = item as Record<string, unknown>;
  const declared = typeof record.event_type === 'string' ? record.event_type : typeof record.type === 'string' ? record.type : undefined;
  const inner = record.data ?? record.payload ?? record.event;
  if (declared !== undefined) {
    const kind = deps.catalog.kind('seed000', declared);
    if (kind && typeof inner === 'object' && inner !== null && !Array.isArray(inner)) return { kind, event: inner };
    return { kind, event: item };
  }
  if ('client_attempt_id' in record) return { kind: deps.catalog.kind('seed000', 'attempt'), event: item };
  if ('placement_id' in record) return { kind: deps.catalog.kind('seed000', 'placement'), event: item };
  if ('session_id' in record && 'start_time' in record) return { kind: deps.catalog.kind('seed000', 'session'), event: item };
  return { event: item };
}

export const seed000Routes: FastifyPluginAsync<IngestDeps> = async (scope: FastifyInstance, deps: IngestDeps) => {
  const route = deps.metrics.forRoute('seed000');
  prepareIngestScope(scope, deps, route, render);
  const { core, catalog, config } = deps;
  const types = catalog.eventTypes('seed000');

  scope.post('/api/v1/events/batch', async (request, reply) => {
    const receivedAt = Date.now();
    const body = request.body as unknown;
    let items = Array.isArray(body) ? body : (body as { events?: unknown } | null)?.events;
    const forcedKinds: Array<EventKind | undefined> = [];
    if (items === undefined && typeof body === 'object' && body !== null) {
      // Also the per-type arrays a Go batch struct would carry: {attempts: [...], sessions: [...], placements: [...]}.
      const grouped: unknown[] = [];
      for (const type of types) {
        const group = (body as Record<string, unknown>)[type + 's'];
        if (group === undefined) continue;
        if (!Array.isArray(group)) throw new HttpError(400, 'validation failed', 'validation', [{ field: type + 's', message: `${type}s must be an array` }]);
        for (const event of group) {
          grouped.push(event);
          forcedKinds.push(catalog.kind('seed000', type));
        }
      }
      if (forcedKinds.length > 0) items = grouped;
    }
    if (!Array.isArray(items)) {
      throw new HttpError(400, 'validation failed', 'validation', [{ field: 'events', message: 'events is required and must be an array' }]);
    }
    if (items.length === 0) throw new HttpError(400, 'validation failed', 'validation', [{ field: 'events', message: 'events must contain at least 1 event' }]);
    if (items.length > config.maxSeed000BatchEvents) {
      throw new HttpError(413, `batch has ${items.length} events; the limit is ${config.maxSeed000BatchEvents}`, 'batch_too_large', [
        { field: 'events', message: `events must contain at most ${config.maxSeed000BatchEvents} events` },
      ]);
    }
    const admitted = core.admit(request, undefined);
    if (admitted) await admitted;
    const prepared: PreparedEvent[] = [];
    const rejections: Rejection[] = [];
    const texts = forcedKinds.length > 0 ? null : rawEventTexts(request, items.length);
    for (let i = 0; i < items.length; i++) {
      const { kind, event } = forcedKinds.length > 0 ? { kind: forcedKinds[i], event: items[i] } : unwrap(items[i], deps);
      // The raw text is the event's only when the item is the event itself (not a wrapper).
      const raw = event === items[i] ? texts?.[i] : undefined;
      const result = kind ? core.prepare(kind, event, i, receivedAt, undefined, raw) : core.unknownType(i, event, 'event_type', types, raw);
      if ('value' in result) prepared.push(result);
      else rejections.push(result);
    }
    const outcome = await core.commit(prepared, rejections, { route, source: 'seed000', dlq: false, receivedAt, sourceKey: ingestKeyName(request) });
    const results: Array<Record<string, unknown>> = new Array(items.length);
    prepared.forEach((event, i) => {
      results[event.index] = { index: event.index, event_id: event.eventId, event_type: event.kind.eventType, status: outcome.statuses[i] };
    });
    for (const rejection of rejections) {
      results[rejection.index] = { index: rejection.index, event_id: rejection.eventId ?? null, status: 'rejected', errors: rejection.errors };
    }
    const status = rejections.length === 0 ? 200 : prepared.length === 0 ? 400 : 207;
    reply.code(status);
    return {
      success: rejections.length === 0,
      total: items.length,
      accepted: outcome.accepted + outcome.duplicates,
      duplicates: outcome.duplicates,
      rejected: rejections.length,
      results,
      processing_time_ms: elapsedMs(reply),
      ...(status === 400 ? { error: 'validation failed', details: rejections.flatMap((r) => r.errors.map((e) => ({ index: r.index, ...e }))) } : {}),
    };
  });

  scope.post<{ Params: { type: string } }>('/api/v1/events/:type', async (request, reply) => {
    const receivedAt = Date.now();
    const kind = catalog.kind('seed000', request.params.type);
    if (!kind) throw new HttpError(404, `unknown event type "${request.params.type}" (one of: ${types.join(', ')}, batch)`, 'validation');
    let body = request.body as unknown;
    let raw: string | undefined;
    if (Array.isArray(body) && body.length === 1) {
      body = body[0];
      raw = rawEventTexts(request, 1)?.[0];
    } else {
      raw = rawSingleText(request);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new HttpError(400, 'validation failed', 'validation', [{ field: '(body)', message: 'request body must be a JSON object' }]);
    }
    // Validate first: the rate limiter keys a bucket on the user id, so only a valid one may name it.
    const result = core.prepare(kind, body, 0, receivedAt, request.headers['idempotency-key'] as string | undefined, raw);
    const admitted = core.admit(request, 'value' in result ? result.key : undefined);
    if (admitted) await admitted;
    if (!('value' in result)) {
      await core.commit([], [result], { route, source: 'seed000', dlq: false, receivedAt });
      throw core.singleEventError(result);
    }
    const outcome = await core.commit([result], [], { route, source: 'seed000', dlq: false, receivedAt, sourceKey: ingestKeyName(request) });
    const duplicate = outcome.statuses[0] === 'duplicate';
    reply.code(202);
    return {
      success: true,
      event_id: result.eventId,
      event_type: kind.eventType,
      status: duplicate ? 'duplicate' : 'accepted',
      duplicate,
      message: duplicate ? 'Duplicate event: already accepted' : 'Event accepted',
      processing_time_ms: elapsedMs(reply),
    };
  });
};

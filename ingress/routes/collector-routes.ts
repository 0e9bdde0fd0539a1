import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { HttpError } from '../HttpError.js';
import { isWellFormed } from '../EventShape.js';
import { MAX_KEY_CHARS, type PreparedEvent, type Rejection } from '../IngestCore.js';
import { rawEventTexts } from '../RawEventText.js';
import { type IngestDeps, elapsedMs, prepareIngestScope } from './ingest-scope.js';
import { ingestKeyName } from './ingest-key-name.js';

/**
 * Seed 001 (event collector): POST /api/v1/collect with a JSON array of events, a
 * {batch_id, events, metadata} object, or NDJSON; gzip welcome.
 *
 * 200 all accepted, 207 some rejected (per-index entries in dlq_events, those events written
 * to the DLQ topic), 422 all rejected, 400 not a batch, 413 more than 1000 events or too many
 * bytes. Errors that are not about events: {detail, error}.
 */
function render(error: HttpError) {
  return { detail: error.message, error: error.reason, ...(error.fields.length > 0 ? { errors: error.fields } : {}) };
}

export const collectorRoutes: FastifyPluginAsync<IngestDeps> = async (scope: FastifyInstance, deps: IngestDeps) => {
  const route = deps.metrics.forRoute('collector');
  prepareIngestScope(scope, deps, route, render);
  const { core, catalog, config } = deps;
  const types = catalog.eventTypes('collector');
  const kinds = catalog.kindsOf('collector');

  scope.post('/api/v1/collect', async (request, reply) => {
    const receivedAt = Date.now();
    const body = request.body as unknown;
    let events: unknown;
    let batchId: string | undefined;
    if (Array.isArray(body)) {
      events = body;
    } else if (typeof body === 'object' && body !== null) {
      const batch = body as { batch_id?: unknown; events?: unknown };
      events = batch.events;
      if (batch.batch_id !== undefined && typeof batch.batch_id !== 'string') {
        throw new HttpError(400, 'batch_id must be a string', 'validation', [{ field: 'batch_id', message: 'batch_id must be a string' }]);
      }
      // batch_id is copied into the answer and into every DLQ record of the batch: an 8 MB one
      // with 1,000 refused events would have written 8 GB to the DLQ.
      if (typeof batch.batch_id === 'string' && (batch.batch_id.length > MAX_KEY_CHARS || !isWellFormed(batch.batch_id))) {
        const message = `batch_id must be well-formed text of at most ${MAX_KEY_CHARS} characters`;
        throw new HttpError(400, message, 'validation', [{ field: 'batch_id', message }]);
      }
      batchId = batch.batch_id as string | undefined;
    }
    if (!Array.isArray(events)) {
      throw new HttpError(400, 'body must be an array of events or {batch_id, events, metadata}', 'validation', [
        { field: 'events', message: 'events is required and must be an array' },
      ]);
    }
    if (events.length === 0) {
      throw new HttpError(400, `a batch holds 1 to ${config.maxCollectorBatchEvents} events; got 0`, 'validation', [{ field: 'events', message: 'events must not be empty' }]);
    }
    if (events.length > config.maxCollectorBatchEvents) {
      throw new HttpError(413, `batch too large: ${events.length} events (max ${config.maxCollectorBatchEvents})`, 'batch_too_large', [
        { field: 'events', message: `events must contain at most ${config.maxCollectorBatchEvents} events` },
      ]);
    }
    const admitted = core.admit(request, undefined);
    if (admitted) await admitted;
    batchId ??= randomUUID();

    const prepared: PreparedEvent[] = [];
    const rejections: Rejection[] = [];
    const texts = rawEventTexts(request, events.length);
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as Record<string, unknown> | null;
      const kind = typeof event === 'object' && event !== null && typeof event.event_type === 'string' ? kinds.get(event.event_type) : undefined;
      const result = kind ? core.prepare(kind, event, i, receivedAt, undefined, texts?.[i]) : core.unknownType(i, event, 'event_type', types, texts?.[i]);
      if ('value' in result) prepared.push(result);
      else rejections.push(result);
    }
    const outcome = await core.commit(prepared, rejections, { route, source: 'collector', dlq: true, receivedAt, batchId, sourceKey: ingestKeyName(request) });

    const warnings: string[] = [];
    if (outcome.duplicates > 0) warnings.push(`${outcome.duplicates} duplicate event(s) were already accepted and were not written again`);
    if (outcome.spooled) warnings.push('the log is unavailable: events were stored in the disk buffer and will be forwarded');
    const status = rejections.length === 0 ? 200 : prepared.length === 0 ? 422 : 207;
    reply.code(status);
    return {
      batch_id: batchId,
      accepted_count: prepared.length,
      rejected_count: rejections.length,
      duplicate_count: outcome.duplicates,
      processing_time_ms: elapsedMs(reply),
      kafka_partition: outcome.partition,
      buffered: outcome.spooled,
      dlq_events: rejections.map((rejection) => ({
        index: rejection.index,
        event_id: rejection.eventId ?? null,
        error: rejection.errors.map((error) => error.message).join('; '),
        errors: rejection.errors,
      })),
      warnings,
      event_ids: prepared.map((event) => event.eventId),
    };
  });
};

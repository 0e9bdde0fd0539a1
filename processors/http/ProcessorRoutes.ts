import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { Log } from '../../log/Log.js';
import type { StreamsApp } from '../../topology/index.js';
import { InvalidStateStoreError } from '../../topology/runtime/InvalidStateStoreError.js';
import { dlqReplayCounter, quarantineTopic, replayDeadLetters } from '../DeadLetterReplay.js';
import type { DefaultPipeline } from '../DefaultPipeline.js';
import { FilterRuleError } from '../FilterRules.js';
import { enrichmentStats, filterStats, processorMetrics, processorStatus } from '../ProcessorStats.js';
import { loadReferenceData, parseNdjson, ReferenceDataError } from '../ReferenceData.js';
import { RoutingRuleError, type RoutingRule } from '../RoutingRules.js';
import { compileSafePattern, type SafePattern } from '../SafePattern.js';
import { AggregationQueryError } from '../WindowedAggregations.js';

export interface ProcessorRoutesOptions {
  app: StreamsApp;
  pipeline: DefaultPipeline;
  /** Enables POST /processor/reference/:kind and POST /processor/dlq/replay. */
  log?: Log;
  /** Where streamline_dlq_replay_records_total goes (the app's registry). */
  registry?: Registry;
  /** Retry-After (seconds) of a 503 while stores are not queryable (rebalance, restore, shutdown). */
  retryAfterSeconds?: number;
}

/** Date's own limit (±100,000,000 days from 1970): anything beyond is no time at all. */
const MAX_EPOCH_MS = 8.64e15;

/** Epoch ms from a query value: digits (ms; below 1e11 taken as seconds, as seed 004's from/to) or ISO text. */
function timeParam(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d+$/.test(value)) {
    const n = value.length > 16 ? Infinity : Number(value);
    const ms = n < 1e11 ? n * 1000 : n;
    if (!(ms <= MAX_EPOCH_MS)) throw new AggregationQueryError(`${name}=${value.length > 24 ? `${value.slice(0, 24)}…` : value} is out of range: epoch seconds or milliseconds up to ${MAX_EPOCH_MS}`);
    return ms;
  }
  const parsed = value.length > 64 ? NaN : Date.parse(value);
  if (!Number.isFinite(parsed)) throw new AggregationQueryError(`${name}="${value.slice(0, 64)}" is not epoch milliseconds, seconds or an ISO date`);
  return parsed;
}

/** A query flag: true/1 or false/0 (absent: false). */
function flagParam(name: string, value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw new AggregationQueryError(`${name} must be true or false`);
}

/**
 * Seed 002's processor API, on the running topology:
 *   GET  /metrics/processor                         processing counters (JSON)
 *   GET  /processor/status                          runtime state and tasks (503 unless running)
 *   GET  /processor/enrichment                      user/item join hits and misses
 *   GET  /processor/filters                         filter rules with match counts, routing rules
 *   POST /processor/filters/reload                  re-reads FILTER_RULES_FILE (400 + old rules kept on a bad file)
 *   PUT  /processor/filters                         replaces the filter rules with the body
 *   GET  /processor/routes, POST /processor/routes, DELETE /processor/routes/:id   routing rules at runtime
 *   GET  /processor/aggregation?aggregator=&key=[&from=&to=]   windows of one key (from/to: window start range)
 *   GET  /processor/aggregations                    the aggregators and their windows
 *   POST /processor/reference/users|items           NDJSON or a JSON array of rows into ref.users / ref.items
 *   POST /processor/dlq/replay[?reason=re2&limit=n&include_rejected=true&from_beginning=true]
 *        dead letters not replayed yet back to their original topic (see replayDeadLetters)
 *
 * @example
 *   await fastify.register(processorRoutes, { app, pipeline, log });
 */
export const processorRoutes: FastifyPluginAsync<ProcessorRoutesOptions> = async (fastify: FastifyInstance, options) => {
  const { app, pipeline, log } = options;
  const replayCounter = options.registry ? dlqReplayCounter(options.registry) : undefined;

  fastify.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  fastify.setErrorHandler((error, _request, reply) => {
    // Kafka Streams' InvalidStateStoreException: retriable, so 503 + Retry-After with the state, never 500.
    if (error instanceof InvalidStateStoreError) {
      return reply
        .code(503)
        .header('retry-after', String(options.retryAfterSeconds ?? 1))
        .send({ error: error.message, state: error.state, store: error.storeName, ...(error.restoring.length > 0 ? { restoring: error.restoring } : {}) });
    }
    if (error instanceof AggregationQueryError) return reply.code(error.statusCode).send({ error: error.message });
    if (error instanceof FilterRuleError || error instanceof RoutingRuleError || error instanceof ReferenceDataError) return reply.code(400).send({ error: error.message });
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status < 500) return reply.code(status).send({ error: (error as Error).message });
    fastify.log.error({ err: error }, 'processor route failed');
    return reply.code(500).send({ error: 'internal error' });
  });

  fastify.get('/metrics/processor', async () => processorMetrics(app, pipeline));

  fastify.get('/processor/status', async (_request, reply) => {
    const status = processorStatus(app, pipeline);
    return reply.code(status.status === 'unhealthy' ? 503 : 200).send(status);
  });

  fastify.get('/processor/enrichment', async () => enrichmentStats(app, pipeline));

  fastify.get('/processor/filters', async () => filterStats(app, pipeline));

  fastify.post('/processor/filters/reload', async (_request, reply) => {
    const result = pipeline.filters.reload();
    return result.ok ? { reloaded: true, rules: result.rules } : reply.code(400).send({ reloaded: false, error: result.error });
  });

  fastify.put('/processor/filters', async (request) => {
    pipeline.filters.replace(request.body);
    return { replaced: true, rules: pipeline.filters.rules().length };
  });

  fastify.get('/processor/routes', async () => ({ rules: pipeline.routes.stats(), unrouted: pipeline.routes.unrouted, allowed_topics: pipeline.routes.allowedTopics() }));

  fastify.post('/processor/routes', async (request, reply) => {
    pipeline.routes.add(request.body as RoutingRule);
    return reply.code(201).send({ rules: pipeline.routes.rules() });
  });

  fastify.delete<{ Params: { id: string } }>('/processor/routes/:id', async (request, reply) => {
    if (!pipeline.routes.remove(request.params.id)) return reply.code(404).send({ error: `no routing rule "${request.params.id}"` });
    return { removed: request.params.id };
  });

  fastify.get('/processor/aggregations', async () => ({
    aggregators: pipeline.aggregations.map((h) => ({
      name: h.spec.name,
      description: h.spec.description,
      key_prefix: h.spec.keyPrefix,
      window_size_ms: h.windows.sizeMs,
      advance_ms: h.windows.advanceMs,
      grace_ms: h.windows.graceMs,
      emit: h.emit,
      topic: pipeline.config.aggregatesTopic,
    })),
  }));

  fastify.get<{ Querystring: { aggregator?: string; key?: string; from?: string; to?: string } }>('/processor/aggregation', async (request) => {
    const { aggregator, key } = request.query;
    if (!aggregator) throw new AggregationQueryError('aggregator is required, e.g. ?aggregator=user_hourly_attempts&key=user:123');
    if (!key) throw new AggregationQueryError('key is required, e.g. ?aggregator=user_hourly_attempts&key=user:123');
    const from = timeParam('from', request.query.from);
    const to = timeParam('to', request.query.to);
    if (from !== undefined && to !== undefined && from > to) throw new AggregationQueryError(`from (${from}) is after to (${to})`);
    // Throws InvalidStateStoreError (503) during a rebalance, a restore or shutdown; an unknown aggregator is 404 below.
    const handle = pipeline.aggregations.find((h) => h.spec.name === aggregator);
    if (handle) app.queryableStores(handle.storeName);
    const rows = pipeline.query(app, { aggregator, key, from, to });
    // A key with no window at all is unknown (404); a known key with none in [from, to] is an empty 200.
    if (rows.length === 0 && (from === undefined && to === undefined ? true : pipeline.query(app, { aggregator, key }).length === 0)) {
      throw new AggregationQueryError(`no windows for key "${key}" in aggregator ${aggregator}`, 404);
    }
    return { aggregator, key, from: from ?? null, to: to ?? null, windows: rows.length, data: rows };
  });

  if (log) {
    fastify.post<{ Params: { kind: string } }>('/processor/reference/:kind', async (request, reply) => {
      const kind = request.params.kind;
      if (kind !== 'users' && kind !== 'items') return reply.code(404).send({ error: `unknown reference table "${kind}"; use users or items` });
      const body = request.body;
      const rows = typeof body === 'string' ? parseNdjson(body) : Array.isArray(body) ? (body as unknown[]) : null;
      if (rows === null) throw new ReferenceDataError('send NDJSON (application/x-ndjson) or a JSON array of rows');
      const partitions = kind === 'users' ? await log.partitionCount(pipeline.config.landingTopic).catch(() => 1) : 1;
      const result = await loadReferenceData(log, kind, rows, { topics: pipeline.config.referenceTopics, partitions });
      return reply.code(202).send(result);
    });

    fastify.post<{ Querystring: { reason?: string; limit?: string; include_rejected?: string; from_beginning?: string } }>('/processor/dlq/replay', async (request) => {
      let reason: SafePattern | undefined;
      try {
        reason = request.query.reason ? compileSafePattern(request.query.reason) : undefined;
      } catch (error) {
        throw new AggregationQueryError(`reason is not a pattern RE2 accepts: ${(error as Error).message}`);
      }
      const limit = request.query.limit ? Number(request.query.limit) : undefined;
      if (limit !== undefined && !(Number.isSafeInteger(limit) && limit > 0)) throw new AggregationQueryError('limit must be a positive integer');
      const result = await replayDeadLetters(log, {
        dlqTopic: pipeline.config.dlqTopic,
        reason,
        limit,
        includeRejected: flagParam('include_rejected', request.query.include_rejected),
        fromBeginning: flagParam('from_beginning', request.query.from_beginning),
        maxReplays: pipeline.config.dlqMaxReplays,
        counter: replayCounter,
      });
      const { rejected, noOrigin, reason: otherReason } = result.skipped;
      return {
        replayed: result.replayed,
        quarantined: result.quarantined,
        skipped: rejected + noOrigin + otherReason,
        skipped_by: { rejected_by_ingress: rejected, no_original_topic: noOrigin, other_reason: otherReason },
        held: result.held,
        more: result.more,
        quarantine_topic: quarantineTopic(pipeline.config.dlqTopic),
        next_offsets: Object.fromEntries(result.nextOffsets),
      };
    });
  }
};

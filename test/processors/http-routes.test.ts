import fs from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildDefaultPipeline, ensurePipelineTopics, type DefaultPipeline } from '../../processors/DefaultPipeline.js';
import { processorRoutes } from '../../processors/http/ProcessorRoutes.js';
import { DEFAULT_DLQ_TOPIC } from '../../config/index.js';
import { readPipelineConfig } from '../../processors/PipelineConfig.js';
import { DLQ_REASON, StreamsBuilder } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { harness, landingRecord, type Harness } from './support.js';

const T = Date.UTC(2024, 0, 15, 10);

describe('processor HTTP routes', () => {
  let h: Harness;
  let pipeline: DefaultPipeline;
  let fastify: FastifyInstance;
  let base: string;
  let rulesFile: string;

  const call = async (method: string, url: string, body?: unknown, contentType = 'application/json') => {
    const response = await fetch(base + url, { method, headers: body === undefined ? {} : { 'content-type': contentType }, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    h = await harness('routes');
    rulesFile = path.join(h.dir, 'filter-rules.json');
    fs.writeFileSync(rulesFile, JSON.stringify({ rules: [{ id: 'no_bots', when: { field: 'user_agent', op: 'contains', value: 'bot' }, action: { type: 'block', reason: 'bot' } }] }));
    const config = readPipelineConfig({ KAFKA_TOPIC: 'landing', FILTER_RULES_FILE: rulesFile });
    await ensurePipelineTopics(h.log, config, 2);
    const builder = new StreamsBuilder();
    pipeline = buildDefaultPipeline(builder, config);
    await h.log.produce([
      landingRecord('landing', { event_id: 'c1', event_type: 'interaction', received_at: T, user_agent: 'a bot', payload: { learner_id: 'u1', timestamp: new Date(T).toISOString() } }, 'u1'),
      landingRecord('landing', { event_id: 'a1', event_type: 'attempt', received_at: T + 1, payload: { user_id: 'u1', item_id: 'i1', quality: 2 } }, 'u1'),
    ]);
    await h.run(builder, ['landing'], { applicationId: 'routes', dlqTopic: config.dlqTopic });
    fastify = Fastify();
    await fastify.register(processorRoutes, { app: h.app!, pipeline, log: h.log });
    await fastify.listen({ host: '127.0.0.1', port: 0 });
    const address = fastify.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterAll(async () => {
    await fastify.close();
    pipeline.close();
    await h.close();
  });

  // First: loading reference data later stamps ref.users records with the wall clock, which moves
  // stream time to now and expires these 2024 windows (7 days retention), as Kafka Streams would.
  test('status and aggregation parameters', async () => {
    expect((await call('GET', '/processor/status')).body).toMatchObject({ status: 'healthy', state: 'RUNNING' });
    const rows = await call('GET', `/processor/aggregation?aggregator=user_hourly_attempts&key=user:u1&from=${new Date(T).toISOString()}&to=${T / 1000}`);
    expect(rows.body).toMatchObject({ windows: 1, data: [expect.objectContaining({ key: 'user:u1', window_start: T, count: 1 })] });
    expect(((await call('GET', '/processor/aggregations')).body.aggregators as unknown[]).length).toBe(6);
  });

  test('filter rules: a bad file is refused on reload with the old rules kept; a good one replaces them', async () => {
    expect((await call('GET', '/processor/filters')).body).toMatchObject({ blocked: 1, passed: 1, loaded_from: rulesFile, rules: [expect.objectContaining({ id: 'no_bots', matched: 1 })] });
    pipeline.filters.unwatch(); // reloads through the route only, so the test controls when
    fs.writeFileSync(rulesFile, JSON.stringify({ rules: [{ id: 'x', when: { field: 'a', op: 'near' }, action: { type: 'allow' } }] }));
    const refused = await call('POST', '/processor/filters/reload');
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/invalid filter rules/);
    expect(pipeline.filters.rules().map((r) => r.id)).toEqual(['no_bots']);
    fs.writeFileSync(rulesFile, JSON.stringify([{ id: 'slow', when: { field: 'payload.time_taken_ms', op: 'gt', value: 1 }, action: { type: 'allow' } }]));
    expect(await call('POST', '/processor/filters/reload')).toEqual({ status: 200, body: { reloaded: true, rules: 1 } });
    expect((await call('PUT', '/processor/filters', [{ id: 'bad' }])).status).toBe(400);
    expect(pipeline.filters.rules().map((r) => r.id)).toEqual(['slow']);
  });

  test('routing rules are added and removed at runtime', async () => {
    const added = await call('POST', '/processor/routes', { id: 'all_to_audit', priority: 0, enabled: true, topics: ['ml.training_events'] });
    expect(added.status).toBe(201);
    expect(pipeline.routes.rules()[0]!.id).toBe('all_to_audit');
    expect((await call('POST', '/processor/routes', { id: 'bad', priority: 0, topics: [] })).status).toBe(400);
    expect((await call('DELETE', '/processor/routes/all_to_audit')).status).toBe(200);
    expect((await call('DELETE', '/processor/routes/all_to_audit')).status).toBe(404);
    expect(((await call('GET', '/processor/routes')).body.rules as Array<{ id: string }>).map((r) => r.id)).toEqual(['high_quality_attempts', 'all_attempts', 'completed_sessions', 'completed_placements', 'activities']);
  });

  test('reference data loads as NDJSON or a JSON array into the reference topics', async () => {
    const ndjson = '{"user_id":"u1","type":"premium","timezone":"Europe/Berlin"}\n{"user_id":"u2","type":"free"}\n';
    expect(await call('POST', '/processor/reference/users', ndjson, 'application/x-ndjson')).toEqual({ status: 202, body: { written: 2, topic: 'ref.users' } });
    expect(await call('POST', '/processor/reference/items', [{ item_id: 'i1', difficulty: 0.4 }])).toEqual({ status: 202, body: { written: 1, topic: 'ref.items' } });
    expect((await call('POST', '/processor/reference/items', [{ difficulty: 0.4 }])).status).toBe(400);
    expect((await call('POST', '/processor/reference/teachers', [])).status).toBe(404);
    const users = await readAll(h.log, 'ref.users');
    expect(users.map((r) => r.key!.toString()).sort()).toEqual(['u1', 'u2']);
    expect(await h.log.partitionCount('ref.users')).toBe(2);
  });

  test('dead letters replay to their original topic and are processed again after the fix', async () => {
    const dlq = await readAll(h.log, DEFAULT_DLQ_TOPIC);
    expect(dlq.map((r) => r.headers[DLQ_REASON])).toEqual(['blocked by filter rule no_bots: bot']);
    // The rule that blocked it is gone (replaced above): replaying lets the event through.
    expect((await call('POST', '/processor/dlq/replay?reason=no_bots')).body).toMatchObject({ replayed: 1, skipped: 0 });
    await waitForCaughtUp(h.app!, h.log, 'routes', ['landing']);
    const activities = await readAll(h.log, 'user.activities');
    expect(activities.map((r) => [JSON.parse(r.value!.toString()).event_id, r.headers.retry_count])).toEqual([['c1', '1']]);
    expect((await call('POST', '/processor/dlq/replay?limit=zero')).status).toBe(400);
  });

});

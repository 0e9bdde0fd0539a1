import Fastify, { type FastifyInstance } from 'fastify';
import { buildDefaultPipeline, ensurePipelineTopics, type DefaultPipeline } from '../../processors/DefaultPipeline.js';
import { processorRoutes } from '../../processors/http/ProcessorRoutes.js';
import { readPipelineConfig } from '../../processors/PipelineConfig.js';
import { StreamsApp, StreamsBuilder } from '../../topology/index.js';
import { InvalidStateStoreError } from '../../topology/runtime/InvalidStateStoreError.js';
import { waitForCaughtUp } from '../support/streams.js';
import { harness, landingRecord, type Harness } from './support.js';

/**
 * Issue 20 part 4: interactive queries while the stores are not queryable answer 503 with
 * Retry-After and the state (Kafka Streams' InvalidStateStoreException), never 500; an unknown
 * aggregator or key is 404. Each 503 is caused: a query while a restore runs (a 50k-row users
 * changelog makes the restore last; the query is sent from the 'restoring' event), and a query
 * while the app is closing.
 */
const T = Date.UTC(2024, 0, 15, 10);
const APP = 'iq-states';
const QUERY = '/processor/aggregation?aggregator=user_hourly_attempts&key=user:u1';

describe('interactive queries during restore and shutdown', () => {
  let h: Harness;
  let pipeline: DefaultPipeline;
  let app: StreamsApp;
  let fastify: FastifyInstance;
  let base: string;

  const get = async (url: string) => {
    const response = await fetch(base + url);
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    h = await harness(APP);
    const config = readPipelineConfig({ KAFKA_TOPIC: 'landing', AGGREGATION_EMIT: 'onUpdate' });
    await ensurePipelineTopics(h.log, config, 1);
    await h.log.ensureTopic(`${APP}-ref-users-changelog`, { partitions: 1 });
    for (let batch = 0; batch < 10; batch++) {
      const rows = Array.from({ length: 5000 }, (_, i) => ({
        topic: `${APP}-ref-users-changelog`,
        partition: 0,
        key: Buffer.from(`user-${batch}-${i}`),
        value: Buffer.from(JSON.stringify({ user_id: `user-${batch}-${i}`, timezone: 'UTC' })),
        timestamp: T,
      }));
      await h.log.produce(rows);
    }
    await h.log.produce([landingRecord('landing', { event_id: 'a1', event_type: 'attempt', received_at: T, payload: { user_id: 'u1', item_id: 'i1', correct: true } }, 'u1')]);
    const builder = new StreamsBuilder();
    pipeline = buildDefaultPipeline(builder, config);
    app = new StreamsApp(builder.build(), h.log, { applicationId: APP, stateDir: `${h.dir}/state`, dlqTopic: config.dlqTopic, registry: h.registry, commitIntervalMs: 20 });
    fastify = Fastify();
    await fastify.register(processorRoutes, { app, pipeline, log: h.log, retryAfterSeconds: 2 });
    await fastify.listen({ host: '127.0.0.1', port: 0 });
    const address = fastify.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }, 120_000);

  afterAll(async () => {
    await fastify?.close();
    pipeline?.close();
    await app?.close();
    await h?.close();
  });

  test('before start: 503 naming the state', async () => {
    expect(await get(QUERY)).toEqual({ status: 503, retryAfter: '2', body: expect.objectContaining({ state: 'CREATED', store: 'agg-user_hourly_attempts' }) });
  });

  test('while a store restores from its changelog: 503 REBALANCING naming the store being restored', async () => {
    let duringRestore: Promise<Awaited<ReturnType<typeof get>>> | undefined;
    let thrown: unknown;
    app.on('restoring', ({ store }: { store: string }) => {
      if (store !== 'ref-users' || duringRestore) return;
      try {
        app.queryableStores('agg-user_hourly_attempts');
      } catch (error) {
        thrown = error;
      }
      duringRestore = get(QUERY);
    });
    await app.start();
    await waitForCaughtUp(app, h.log, APP, ['landing']);
    expect(thrown).toBeInstanceOf(InvalidStateStoreError);
    expect(thrown).toMatchObject({ state: 'REBALANCING', restoring: ['ref-users'] });
    expect(duringRestore).toBeDefined();
    const answer = await duringRestore!;
    expect(answer).toMatchObject({ status: 503, retryAfter: '2', body: { state: 'REBALANCING', restoring: ['ref-users'] } });
    expect(answer.body.error).toMatch(/not queryable while a rebalance is in progress/);
  }, 120_000);

  test('running: 200 for a known key, 404 for an unknown key or aggregator', async () => {
    expect(await get(QUERY)).toMatchObject({ status: 200, body: { windows: 1 } });
    expect(await get('/processor/aggregation?aggregator=user_hourly_attempts&key=user:nobody')).toMatchObject({ status: 404 });
    expect(await get('/processor/aggregation?aggregator=nope&key=user:u1')).toMatchObject({ status: 404 });
    // A known key with no window in the range is an empty answer, not an unknown key.
    expect(await get(`${QUERY}&from=${T + 86_400_000}`)).toMatchObject({ status: 200, body: { windows: 0 } });
  });

  test('while the app closes: 503 with the state, never 500', async () => {
    const closing = app.close();
    expect(() => app.queryableStores('agg-user_hourly_attempts')).toThrow(InvalidStateStoreError);
    const answer = await get(QUERY);
    await closing;
    expect(answer.status).toBe(503);
    expect(answer.retryAfter).toBe('2');
    expect(['PENDING_SHUTDOWN', 'NOT_RUNNING']).toContain(answer.body.state);
    expect(await get(QUERY)).toMatchObject({ status: 503, body: { state: 'NOT_RUNNING' } });
  });
});

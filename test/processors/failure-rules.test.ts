import { buildDefaultPipeline, ensurePipelineTopics, type DefaultPipeline } from '../../processors/DefaultPipeline.js';
import { DEFAULT_AGGREGATORS, type AggregatorSpec } from '../../processors/AggregationSpecs.js';
import { FilterRuleSet, type FilterDecision } from '../../processors/FilterRules.js';
import { processorRoutes } from '../../processors/http/ProcessorRoutes.js';
import type { LearningEvent } from '../../processors/LandingEvent.js';
import { readPipelineConfig } from '../../processors/PipelineConfig.js';
import { ProcessingFailures } from '../../processors/ProcessingFailures.js';
import { registerSeedMetrics } from '../../processors/SeedMetrics.js';
import { StreamsBuilder } from '../../topology/index.js';
import Fastify, { type FastifyInstance } from 'fastify';
import { jsonValues, readAll, waitForCaughtUp } from '../support/streams.js';
import { harness, landingRecord, type Harness } from './support.js';

/**
 * Issue 20 part 2, seed 002's error handling, each rule caused on the default pipeline:
 *   - an aggregation that throws is skipped for that record; its other aggregations and its
 *     routing go on (aggregation_failures_total{aggregator});
 *   - a filter that throws lets the event through (filter_failures_total);
 *   - an enrichment lookup that throws (a users row that does not decode) continues with empty
 *     enrichment (enrichment_failures_total{table});
 *   - a failure that persists for the whole window turns /processor/status degraded with the reason.
 * The window is measured on an injected clock, so "a minute" passes without waiting one.
 */
const T = Date.UTC(2024, 0, 15, 10);

/** Throws on every record: the aggregation that must be skipped alone. */
const BROKEN: AggregatorSpec = {
  ...DEFAULT_AGGREGATORS.find((spec) => spec.name === 'user_hourly_attempts')!,
  name: 'broken_attempts',
  description: 'fails on every record',
  add: () => {
    throw new Error('broken aggregation');
  },
};

/** The default rules, except that evaluating them throws for user u-filter. */
class ThrowingRules extends FilterRuleSet {
  override apply<E extends { event_type: string }>(event: E): FilterDecision<E> {
    if ((event as unknown as LearningEvent).user_id === 'u-filter') throw new Error('filter exploded');
    return super.apply(event);
  }
}

const attempt = (id: string, user: string, at: number) =>
  landingRecord('landing', { event_id: id, event_type: 'attempt', received_at: at, payload: { user_id: user, item_id: 'i1', client_attempt_id: id, correct: true, time_taken_ms: 3000 } }, user);

describe('seed 002 failure rules', () => {
  let h: Harness;
  let pipeline: DefaultPipeline;
  let fastify: FastifyInstance;
  let base: string;
  const status = async () => {
    const response = await fetch(`${base}/processor/status`);
    return { statusCode: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  let clock = 0;
  const failures = new ProcessingFailures({ degradedAfterMs: 60_000, now: () => clock });

  beforeAll(async () => {
    h = await harness('failure-rules');
    const config = readPipelineConfig({ KAFKA_TOPIC: 'landing', AGGREGATION_EMIT: 'onUpdate' });
    await ensurePipelineTopics(h.log, config, 1);
    // A users row that does not decode: written straight into the users store's changelog, it is
    // restored as bytes and fails when the enrichment reads it.
    await h.log.ensureTopic('failure-rules-ref-users-changelog', { partitions: 1 });
    await h.log.produce([{ topic: 'failure-rules-ref-users-changelog', partition: 0, key: Buffer.from('u-enrich'), value: Buffer.from([0xff, 0x00, 0x7b]), timestamp: T }]);
    const builder = new StreamsBuilder();
    pipeline = buildDefaultPipeline(builder, config, { aggregators: [...DEFAULT_AGGREGATORS, BROKEN], filters: new ThrowingRules(), failures });
    await h.log.produce([attempt('a1', 'u-ok', T), attempt('a2', 'u-filter', T + 1), attempt('a3', 'u-enrich', T + 2)]);
    await h.run(builder, ['landing'], { applicationId: 'failure-rules', dlqTopic: config.dlqTopic });
    registerSeedMetrics(h.registry, h.app!, pipeline);
    fastify = Fastify();
    await fastify.register(processorRoutes, { app: h.app!, pipeline, log: h.log });
    await fastify.listen({ host: '127.0.0.1', port: 0 });
    const address = fastify.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }, 60_000);

  afterAll(async () => {
    await fastify?.close();
    pipeline?.close();
    await h?.close();
  });

  const metric = async (series: string) => {
    const line = (await h.registry.metrics()).split('\n').find((l) => l.startsWith(series + ' '));
    return line ? Number(line.slice(series.length + 1)) : 0;
  };

  test('a failing aggregation is skipped and counted; the other aggregations and routing go on', async () => {
    expect(await metric('aggregation_failures_total{aggregator="broken_attempts"}')).toBe(3);
    const routed = jsonValues<{ event_id: string }>(await readAll(h.log, 'user.attempts')).map((e) => e.event_id).sort();
    expect(routed).toEqual(['a1', 'a2', 'a3']);
    expect(pipeline.query(h.app!, { aggregator: 'user_hourly_attempts', key: 'user:u-ok' })).toEqual([expect.objectContaining({ count: 1 })]);
    expect(await readAll(h.log, pipeline.config.dlqTopic)).toHaveLength(0);
  });

  test('a filter that throws lets the event through and counts', async () => {
    const clean = jsonValues<{ event_id: string }>(await readAll(h.log, pipeline.config.cleanEventsTopic));
    expect(clean.map((e) => e.event_id)).toContain('a2');
    expect(await metric('filter_failures_total{filter="rules"}')).toBe(1);
    expect(await h.outcome('filter', 'failed_open')).toBe(1);
  });

  test('an enrichment lookup that throws continues with empty enrichment and counts', async () => {
    const clean = jsonValues<{ event_id: string; enrichment?: { user: unknown } }>(await readAll(h.log, pipeline.config.cleanEventsTopic));
    expect(clean.find((e) => e.event_id === 'a3')?.enrichment?.user).toBeNull();
    expect(await metric('enrichment_failures_total{table="users"}')).toBe(1);
  });

  test('a failure on every record for the window turns /processor/status degraded with the reason', async () => {
    const healthy = await status();
    expect(healthy.body).toMatchObject({ status: 'healthy', state: 'RUNNING' });
    clock = 61_000;
    await h.log.produce([attempt('a4', 'u-ok', T + 3)]);
    await waitForCaughtUp(h.app!, h.log, 'failure-rules', ['landing']);
    const degraded = await status();
    expect(degraded.statusCode).toBe(200);
    const body = degraded.body;
    expect(body.status).toBe('degraded');
    expect(body.degraded_reasons).toEqual([expect.stringMatching(/^aggregation broken_attempts failed every record for 60s or more \(last error: broken aggregation\)$/)]);
  });
});

describe('persistent failures are judged per partition', () => {
  test('a table failing every record of one partition for the window is degraded while other partitions succeed; one success there clears it', () => {
    let clock = 0;
    const failures = new ProcessingFailures({ degradedAfterMs: 1000, now: () => clock });
    const users = failures.tracker('enrichment', 'users');
    users.failed(new Error('row does not decode'), 1);
    users.ok(0);
    clock = 999;
    users.failed(new Error('row does not decode'), 1);
    expect(failures.degradedReasons()).toEqual([]);
    clock = 1000;
    users.ok(0);
    users.failed(new Error('row does not decode'), 1);
    expect(failures.degradedReasons()).toEqual(['enrichment users failed every record on partition 1 for 1s or more (last error: row does not decode)']);
    // Failures that stopped (no record failed within the window) no longer degrade.
    clock = 2000;
    expect(failures.degradedReasons()).toEqual([]);
    users.failed(new Error('again'), 1);
    clock = 3000;
    users.failed(new Error('again'), 1);
    expect(failures.degradedReasons()).toHaveLength(1);
    users.ok(1);
    expect(failures.degradedReasons()).toEqual([]);
  });
});

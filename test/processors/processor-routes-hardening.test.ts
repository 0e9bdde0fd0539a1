import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { replayDeadLetters } from '../../processors/DeadLetterReplay.js';
import { buildDefaultPipeline, ensurePipelineTopics, type DefaultPipeline } from '../../processors/DefaultPipeline.js';
import { processorRoutes } from '../../processors/http/ProcessorRoutes.js';
import { readPipelineConfig } from '../../processors/PipelineConfig.js';
import { compileSafePattern } from '../../processors/SafePattern.js';
import { StreamsBuilder } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { harness, landingRecord, type Harness } from './support.js';

const T = Date.UTC(2024, 0, 15, 10);
const DLQ = 'events-dlq';

/** Issue 12's probes against the processor routes: each got a 500 (or worse) before. */
describe('processor routes refuse hostile input with 400s; DLQ replay is idempotent and bounded', () => {
  let h: Harness;
  let pipeline: DefaultPipeline;
  let fastify: FastifyInstance;
  let base: string;
  const failures: string[] = [];
  const registry = new Registry();

  const call = async (method: string, url: string, body?: unknown) => {
    const response = await fetch(base + url, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const dlqSize = async () => (await readAll(h.log, DLQ)).length;

  beforeAll(async () => {
    h = await harness('hardening');
    const config = readPipelineConfig({ KAFKA_TOPIC: 'landing' });
    await ensurePipelineTopics(h.log, config, 2);
    const builder = new StreamsBuilder();
    pipeline = buildDefaultPipeline(builder, config);
    await h.log.produce([landingRecord('landing', { event_id: 'a1', event_type: 'attempt', received_at: T, payload: { user_id: 'u1', item_id: 'i1', quality: 2 } }, 'u1')]);
    await h.run(builder, ['landing'], { applicationId: 'hardening', dlqTopic: config.dlqTopic });
    fastify = Fastify();
    // The probes got 500s: collect any, there must be none.
    fastify.addHook('onResponse', async (request, reply) => {
      if (reply.statusCode >= 500) failures.push(`${request.method} ${request.url.slice(0, 80)} ${reply.statusCode}`);
    });
    await fastify.register(processorRoutes, { app: h.app!, pipeline, log: h.log, registry });
    await fastify.listen({ host: '127.0.0.1', port: 0 });
    const address = fastify.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }, 60_000);

  afterAll(async () => {
    await fastify.close();
    pipeline.close();
    await h.close();
  });

  test('aggregation ranges out of Date\'s range or reversed get 400 naming the parameter', async () => {
    const url = (range: string) => `/processor/aggregation?aggregator=user_hourly_attempts&key=user:u1&${range}`;
    expect(await call('GET', url('to=99999999999999999999'))).toEqual({ status: 400, body: { error: 'to=99999999999999999999 is out of range: epoch seconds or milliseconds up to 8640000000000000' } });
    expect((await call('GET', url('from=8640000000000001'))).status).toBe(400);
    expect(await call('GET', url(`from=${T + 1}&to=${T}`))).toEqual({ status: 400, body: { error: `from (${T + 1}) is after to (${T})` } });
    expect((await call('GET', url('from=yesterday'))).status).toBe(400);
    expect(await call('GET', url(`from=${T}&to=${T / 1000 + 3600}`))).toMatchObject({ status: 200, body: { windows: 1 } });
  });

  test('a null reference row gets 400 naming the row; nothing is written', async () => {
    expect(await call('POST', '/processor/reference/users', [{ user_id: 'u2' }, null])).toEqual({ status: 400, body: { error: 'row 2 is not a JSON object' } });
    expect(await call('POST', '/processor/reference/users', [[1]])).toEqual({ status: 400, body: { error: 'row 1 is not a JSON object' } });
    // Built as text: JSON.stringify itself overflows on 20k levels.
    const deep = `[{"user_id":"u3","extra":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}]`;
    expect((await call('POST', '/processor/reference/users', deep)).body.error).toMatch(/^row 1 nests deeper than 16 levels/);
    expect(await readAll(h.log, 'ref.users')).toHaveLength(0);
  });

  test('a 20k-deep filter body (and routing rule) gets 400 naming the depth; the rules in force stay', async () => {
    const when = `${'{"not":'.repeat(20_000)}{"field":"x","op":"exists"}${'}'.repeat(20_000)}`;
    const filters = await call('PUT', '/processor/filters', `[{"id":"deep","when":${when},"action":{"type":"allow"}}]`);
    expect(filters.status).toBe(400);
    expect(filters.body.error).toMatch(/^invalid filter rules: nested deeper than 64 levels \(at \/0\/when\/not\/not\//);
    expect(pipeline.filters.rules().map((r) => r.id)).toContain('bot_detection');
    const routes = await call('POST', '/processor/routes', `{"id":"deep","priority":0,"when":${when},"topics":["user.attempts"]}`);
    expect(routes.status).toBe(400);
    expect(routes.body.error).toMatch(/^invalid routing rule: nested deeper than 64 levels/);
    expect((await call('POST', '/processor/routes', [1, 2])).status).toBe(400);
  });

  test('a ReDoS-shaped rule compiles on RE2; syntax RE2 cannot run is refused with 400 naming the rule', async () => {
    const backref = await call('PUT', '/processor/filters', [{ id: 'twice', when: { field: 'payload.event_name', op: 'regex', value: '(a+)\\1' }, action: { type: 'block' } }]);
    expect(backref.status).toBe(400);
    expect(backref.body.error).toMatch(/^invalid filter rule "twice": payload\.event_name regex .*invalid escape sequence/);
    const redos = [{ id: 'redos', when: { field: 'payload.event_name', op: 'regex', value: '^(a+)+$' }, action: { type: 'block', reason: 'aaa' } }];
    expect(await call('PUT', '/processor/filters', redos)).toEqual({ status: 200, body: { replaced: true, rules: 1 } });
    // The probe event passes through the running topology (the old engine froze 17 s on it).
    await h.log.produce([landingRecord('landing', { event_id: 'p1', event_type: 'product', received_at: T + 10, payload: { user_id: 'u1', event_name: `${'a'.repeat(29)}!`, timestamp: T + 10 } }, 'u1')]);
    await waitForCaughtUp(h.app!, h.log, 'hardening', ['landing']);
    expect((await readAll(h.log, 'user.activities')).map((r) => JSON.parse(r.value!.toString()).event_id)).toEqual(['p1']);
    expect(await dlqSize()).toBe(0);
    expect((await call('PUT', '/processor/filters', [])).status).toBe(200);
  });

  test('routing rules to a topic outside ROUTE_TOPICS get 400 naming the list, and no topic is created', async () => {
    for (const topic of ['attacker.exfil', 'landing', 'ref.users', 'events.clean', 'hardening-dedupe-ids-changelog']) {
      const refused = await call('POST', '/processor/routes', { id: 'exfil', priority: 0, topics: [topic] });
      expect(refused).toEqual({
        status: 400,
        body: { error: `routing rule "exfil" targets "${topic}": rules may target only the configured output topics (ROUTE_TOPICS): ml.training_events, user.activities, user.attempts, user.placements, user.sessions` },
      });
    }
    expect(await h.log.listTopics()).not.toContain('attacker.exfil');
    const routes = await call('GET', '/processor/routes');
    expect((routes.body.rules as Array<{ id: string }>).map((r) => r.id)).not.toContain('exfil');
    expect(routes.body.allowed_topics).toEqual(['ml.training_events', 'user.activities', 'user.attempts', 'user.placements', 'user.sessions']);
  });

  test('DLQ replay: ingress-rejected records are skipped, a second replay finds nothing new, and a poison record is quarantined after 3 replays', async () => {
    // One invalid collector event as the ingress dead-letters it (no original_offset), and one
    // landing record the topology cannot parse.
    await h.log.produce([{ topic: DLQ, key: Buffer.from('learner_1'), value: Buffer.from('{"v":1,"payload":{}}'), headers: { dlq_reason: 'learner_id is required', dlq_timestamp: new Date(T).toISOString(), original_topic: 'landing', source: 'collector', retry_count: '0' } }]);
    await h.log.produce([{ topic: 'landing', key: Buffer.from('u9'), value: Buffer.from('not json at all'), timestamp: T }]);
    await waitForCaughtUp(h.app!, h.log, 'hardening', ['landing']);
    expect(await dlqSize()).toBe(2);

    const bad = await call('POST', '/processor/dlq/replay?reason=((');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^reason is not a pattern RE2 accepts: missing closing \)/);
    // The probe pattern runs on RE2 and matches nothing here.
    expect((await call('POST', '/processor/dlq/replay?reason=^(.|.){0,20}Q')).body).toMatchObject({ replayed: 0, held: 1, skipped: 2, skipped_by: { rejected_by_ingress: 1, other_reason: 1 } });

    // Before: 1, 2, 4, 8, 16, 32 records after six replays. Now the poison record goes round
    // three times (retry_count 1..3), then is quarantined; the rejected event is never replayed.
    const sizes: number[] = [];
    const bodies: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 6; i++) {
      const reply = await call('POST', '/processor/dlq/replay');
      expect(reply.status).toBe(200);
      bodies.push(reply.body);
      await waitForCaughtUp(h.app!, h.log, 'hardening', ['landing']);
      sizes.push(await dlqSize());
    }
    expect(sizes).toEqual([3, 4, 5, 5, 5, 5]);
    expect(bodies.map((b) => [b.replayed, b.quarantined, b.skipped])).toEqual([[1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 0]]);
    expect(bodies[5]).toMatchObject({ held: 0, more: false, quarantine_topic: `${DLQ}.quarantine`, next_offsets: { 0: 5 } });
    const replayed = (await readAll(h.log, 'landing')).filter((r) => r.value?.toString() === 'not json at all');
    expect(replayed.map((r) => r.headers.retry_count ?? '-')).toEqual(['-', '1', '2', '3']);
    const quarantined = await readAll(h.log, `${DLQ}.quarantine`);
    expect(quarantined.map((r) => [r.key?.toString(), r.value?.toString(), r.headers.retry_count])).toEqual([['u9', 'not json at all', '3']]);
    const outcomes = Object.fromEntries((await registry.getSingleMetric('streamline_dlq_replay_records_total')!.get()).values.map((v) => [v.labels.outcome, v.value]));
    expect(outcomes).toMatchObject({ replayed: 3, quarantined: 1, skipped_rejected: 1, held: 1 });
    expect(failures).toEqual([]);
  });

  test('replay cursor: reason-filtered records stay owed, a limit resumes where it stopped, from_beginning re-examines', async () => {
    const dlq = 'manual-dlq';
    await h.log.ensureTopic(dlq, { partitions: 1 });
    await h.log.ensureTopic('orig', { partitions: 1 });
    const letter = (i: number, reason: string) => ({ topic: dlq, key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`), headers: { dlq_reason: reason, original_topic: 'orig', original_partition: '0', original_offset: String(i) } });
    await h.log.produce([letter(0, 'alpha'), letter(1, 'beta'), letter(2, 'alpha'), letter(3, 'beta')]);
    const replay = (options: Partial<Parameters<typeof replayDeadLetters>[1]> = {}) => replayDeadLetters(h.log, { dlqTopic: dlq, ...options });

    expect(await replay({ reason: compileSafePattern('^alpha$') })).toMatchObject({ replayed: 2, held: 2, more: false });
    expect(await replay({ reason: compileSafePattern('^alpha$') })).toMatchObject({ replayed: 0, held: 2 });
    await h.log.produce([letter(4, 'alpha'), letter(5, 'alpha'), letter(6, 'beta')]);
    // The held betas come first; the limit stops the replay and the next call resumes.
    expect(await replay({ limit: 3 })).toMatchObject({ replayed: 3, more: true });
    expect(await replay({ limit: 3 })).toMatchObject({ replayed: 2, more: false, held: 0 });
    expect(await replay()).toMatchObject({ replayed: 0, held: 0 });
    const values = async () => (await readAll(h.log, 'orig')).map((r) => r.value!.toString());
    expect((await values()).sort()).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6']);
    // Concurrent calls take turns: the records go out once.
    await h.log.produce([letter(7, 'gamma')]);
    const both = await Promise.all([replay(), replay()]);
    expect(both.map((r) => r.replayed).sort()).toEqual([0, 1]);
    expect(await replay({ fromBeginning: true, limit: 1 })).toMatchObject({ replayed: 1, more: true });
    expect((await values()).filter((v) => v === 'v0')).toHaveLength(2);
    expect(await replayDeadLetters(h.log, { dlqTopic: 'no-such-dlq' })).toMatchObject({ replayed: 0, held: 0, more: false });
    expect(readPipelineConfig({ DLQ_MAX_REPLAYS: '5' }).dlqMaxReplays).toBe(5);
    expect(() => readPipelineConfig({ DLQ_MAX_REPLAYS: '0' })).toThrow('DLQ_MAX_REPLAYS=0 is out of range [1, 1000]');
  });
});

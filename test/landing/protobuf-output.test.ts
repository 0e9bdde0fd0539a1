import { buildDefaultPipeline, ensurePipelineTopics } from '../../processors/DefaultPipeline.js';
import type { LearningEvent } from '../../processors/LandingEvent.js';
import { enrichedEventSerde, PROTOBUF_OUTPUT_CONTENT_TYPE } from '../../processors/OutputFormats.js';
import { readPipelineConfig } from '../../processors/PipelineConfig.js';
import { defaultRoutingRules, RoutingRuleError, RoutingTable } from '../../processors/RoutingRules.js';
import { StreamsBuilder } from '../../topology/index.js';
import { harness, type Harness } from '../processors/support.js';
import { readAll } from '../support/streams.js';
import { parseTextFormat, protocDecode, structJson, type TextNode } from './protoc-text.js';

const T = Date.now() - 60_000;
const ALL_TYPES = ['attempt', 'session', 'placement', 'interaction', 'progress', 'assessment', 'error', 'system', 'product'];

/** protoc's text of an EnrichedEvent as the JSON object it stands for (proto3 defaults filled in, as JSON has them). */
function enrichedJson(node: TextNode): Record<string, unknown> {
  const one = (n: TextNode, name: string) => n[name]?.[0] as string | undefined;
  const out: Record<string, unknown> = {
    v: Number(one(node, 'v') ?? 0),
    event_id: one(node, 'event_id') ?? '',
    id_assigned: one(node, 'id_assigned') === 'true',
    event_type: one(node, 'event_type') ?? '',
    kind: one(node, 'kind') ?? '',
    source: one(node, 'source') ?? '',
    received_at: Number(one(node, 'received_at') ?? 0),
    event_time: Number(one(node, 'event_time') ?? 0),
    user_id: one(node, 'user_id') ?? '',
    payload: structJson(node.payload?.[0] as TextNode | undefined),
  };
  if (node.user_agent) out.user_agent = one(node, 'user_agent');
  if (node.flags) out.flags = node.flags;
  if (node.hints) out.hints = node.hints;
  const enrichment = node.enrichment?.[0] as TextNode | undefined;
  if (enrichment) {
    const derived = (enrichment.derived?.[0] ?? {}) as TextNode;
    const numbers = new Set(['local_hour', 'performance_vs_expected', 'session_accuracy']);
    out.enrichment = {
      ...(enrichment.user ? { user: structJson(enrichment.user[0] as TextNode) } : {}),
      ...(enrichment.item ? { item: structJson(enrichment.item[0] as TextNode) } : {}),
      derived: Object.fromEntries(Object.entries(derived).map(([key, [value]]) => [key, numbers.has(key) ? Number(value) : key === 'is_new_user' ? value === 'true' : value])),
    };
  }
  return out;
}

/** The JSON twin without what Protobuf cannot hold: null profiles (absent there), empty lists. */
function comparable(event: LearningEvent): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
  const enrichment = copy.enrichment as Record<string, unknown> | undefined;
  if (enrichment) for (const key of ['user', 'item']) if (enrichment[key] === null) delete enrichment[key];
  for (const key of ['flags', 'hints']) if (Array.isArray(copy[key]) && (copy[key] as unknown[]).length === 0) delete copy[key];
  return copy;
}

describe('routed output as Protobuf', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await harness('landing-protobuf-out');
  });

  afterEach(async () => {
    await h.close();
  });

  test('a topic set to Protobuf (by topic, and by rule) decodes with protoc --decode to the same fields as its JSON twin', async () => {
    const config = readPipelineConfig({ ROUTE_TOPICS: 'user.attempts,user.sessions,user.placements,user.activities,ml.training_events,twin.pb,sessions.pb' });
    const rules = [
      ...defaultRoutingRules(config.outputTopics),
      // By rule: every event also to twin.pb, as Protobuf.
      { id: 'twin', priority: 10, enabled: true, event_types: ALL_TYPES, topics: ['twin.pb'], format: 'protobuf' as const },
      // By topic: sessions.pb is a Protobuf topic (PROTOBUF_OUTPUT_TOPICS), the rule says nothing.
      { id: 'sessions-pb', priority: 11, enabled: true, event_types: ['session'], topics: ['sessions.pb'] },
    ];
    const routes = new RoutingTable(rules, { allowedTopics: config.routeTopics, protobufTopics: ['sessions.pb'] });
    expect(() => routes.add({ id: 'bad', priority: 1, enabled: true, topics: ['twin.pb'], format: 'avro' as never })).toThrow(RoutingRuleError);
    expect(() => routes.add({ id: 'bad', priority: 1, enabled: true, topics: ['twin.pb'], format: 'avro' as never })).toThrow(/format/);

    const builder = new StreamsBuilder();
    const pipeline = buildDefaultPipeline(builder, config, { routes });
    await ensurePipelineTopics(h.log, config, 2);
    const bare = (value: Record<string, unknown>, key: string) => ({ topic: config.landingTopic, key: Buffer.from(key), value: Buffer.from(JSON.stringify(value)), timestamp: T });
    await h.log.produce([
      bare({ event_name: 'lesson_started', user_id: 'u1', timestamp: T - 500, channel: 'web', tags: ['a', 'b'], metadata: { plan: 'pro', seats: 3, trial: false, nested: { list: [1, 'x', null] } } }, 'u1'),
      bare({ learner_id: 'l1', tenant_id: 't1', event_type: 'progress', timestamp: new Date(T - 400).toISOString(), source_service: 'app', event_data: { percent: 42.5 } }, 'l1'),
      bare({ user_id: 'u2', item_id: 'i1', client_attempt_id: 'a-1', correct: true, quality: 5, time_taken_ms: 900, selected: ['b'] }, 'u2'),
      bare({ session_id: 's-1', user_id: 'u2', start_time: new Date(T - 90_000).toISOString(), end_time: new Date(T - 1000).toISOString(), items_attempted: 4, correct_count: 3 }, 'u2'),
    ]);
    await h.run(builder, [config.landingTopic]);
    pipeline.close();

    const json = new Map<string, LearningEvent>();
    for (const topic of ['user.activities', 'user.attempts', 'user.sessions']) {
      for (const record of await readAll(h.log, topic)) {
        expect(record.headers['content-type']).toBeUndefined();
        const event = JSON.parse(record.value!.toString('utf8')) as LearningEvent;
        json.set(event.event_id, event);
      }
    }
    const twin = await readAll(h.log, 'twin.pb');
    const sessionsPb = await readAll(h.log, 'sessions.pb');
    expect(twin).toHaveLength(4);
    expect(sessionsPb).toHaveLength(1);
    for (const record of [...twin, ...sessionsPb]) {
      expect(record.headers['content-type']).toBe(PROTOBUF_OUTPUT_CONTENT_TYPE);
      const decoded = enrichedJson(parseTextFormat(protocDecode('streamline.v1.EnrichedEvent', record.value!)));
      const jsonTwin = json.get(decoded.event_id as string);
      expect(jsonTwin).toBeDefined();
      expect(decoded).toEqual(comparable(jsonTwin!));
      // The serde reads its own bytes back to the same event.
      expect(enrichedEventSerde().deserialize(record.value!)).toEqual(comparable(jsonTwin!));
    }
    expect(json.size).toBe(4);
  }, 60_000);

  test('PROTOBUF_OUTPUT_TOPICS and PROTOBUF_OUTPUT_SCHEMA_ID through the config: Confluent-framed EnrichedEvents that protoc decodes to their JSON twins', async () => {
    const config = readPipelineConfig({ PROTOBUF_OUTPUT_TOPICS: 'ml.training_events', PROTOBUF_OUTPUT_SCHEMA_ID: '17' });
    // No routes given: the default rules with the configured formats, as the service builds them.
    const builder = new StreamsBuilder();
    const pipeline = buildDefaultPipeline(builder, config);
    await ensurePipelineTopics(h.log, config, 2);
    const bare = (value: Record<string, unknown>, key: string) => ({ topic: config.landingTopic, key: Buffer.from(key), value: Buffer.from(JSON.stringify(value)), timestamp: T });
    await h.log.produce([
      // A high-quality attempt goes to user.attempts (JSON) and ml.training_events; a completed placement to user.placements and ml.training_events.
      bare({ user_id: 'u3', item_id: 'i2', client_attempt_id: 'a-9', correct: true, quality: 5, time_taken_ms: 1200 }, 'u3'),
      bare({ placement_id: 'p-4', user_id: 'u4', items_administered: 15, overall_accuracy: 0.73, was_completed: true, results: { ability_estimates: { signs: 0.8 } } }, 'u4'),
    ]);
    await h.run(builder, [config.landingTopic]);
    pipeline.close();

    const json = new Map<string, LearningEvent>();
    for (const topic of ['user.attempts', 'user.placements']) for (const record of await readAll(h.log, topic)) json.set(record.key!.toString('utf8'), JSON.parse(record.value!.toString('utf8')) as LearningEvent);
    const training = await readAll(h.log, 'ml.training_events');
    expect(training).toHaveLength(2);
    expect(json.size).toBe(2);
    // The Confluent wire format written out by hand: magic 0, schema id 17 (4 bytes, big-endian),
    // message indexes [2] as zigzag varints (count 1 -> 0x02, index 2 -> 0x04): EnrichedEvent is
    // the third message of enriched.proto, after DerivedEnrichment and Enrichment.
    const prefix = Buffer.from([0, 0, 0, 0, 17, 0x02, 0x04]);
    for (const record of training) {
      expect(record.headers['content-type']).toBe(PROTOBUF_OUTPUT_CONTENT_TYPE);
      expect(record.value!.subarray(0, prefix.length)).toEqual(prefix);
      const decoded = enrichedJson(parseTextFormat(protocDecode('streamline.v1.EnrichedEvent', record.value!.subarray(prefix.length))));
      expect(decoded).toEqual(comparable(json.get(decoded.user_id as string)!));
    }
  }, 60_000);

  test('refused landing records are counted by kind in the parse step and dead-lettered with their reason', async () => {
    const config = readPipelineConfig({});
    const builder = new StreamsBuilder();
    const pipeline = buildDefaultPipeline(builder, config);
    await ensurePipelineTopics(h.log, config, 2);
    const raw = (value: Buffer, key: string | null) => ({ topic: config.landingTopic, key: key === null ? null : Buffer.from(key), value, timestamp: T });
    await h.log.produce([
      raw(Buffer.from(JSON.stringify({ event_name: 'x', user_id: 'u1' })), 'u1'),
      raw(Buffer.from(JSON.stringify({ event_name: 'x', user_id: 'u1', timestamp: T, channel: 'fax' })), 'u1'),
      raw(Buffer.from([1, 2, 3]), null),
      raw(Buffer.from(JSON.stringify({ event_name: 'ok', user_id: 'u1', timestamp: T })), 'u1'),
    ]);
    await h.run(builder, [config.landingTopic], { dlqTopic: config.dlqTopic });
    pipeline.close();
    expect(await h.outcome('parse', 'refused_invalid')).toBe(2);
    expect(await h.outcome('parse', 'refused_unparseable')).toBe(1);
    expect(await h.outcome('parse', 'product')).toBe(1);
    const reasons = (await readAll(h.log, config.dlqTopic)).map((record) => record.headers.dlq_reason).sort();
    expect(reasons).toEqual(['channel must be one of: web, mobile, api, email, push, ""', expect.stringMatching(/^landing record value is not JSON/), 'timestamp is required']);
  }, 60_000);
});

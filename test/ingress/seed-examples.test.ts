import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { type Harness, startIngress } from './ingress-harness.js';

/**
 * Every example request of the seeds, sent as the seed shows it (the text copied verbatim,
 * placeholders included), gets the status and body shape the seed documents.
 */

const SEED000_ATTEMPT = `{
  "user_id": "uuid",
  "item_id": "uuid",
  "session_id": "uuid",
  "client_attempt_id": "uuid",
  "selected": "answer_data",
  "correct": true,
  "quality": 4,
  "confidence": 3,
  "time_taken_ms": 5000,
  "hints_used": 0,
  "device_type": "mobile",
  "app_version": "1.0.0"
}`;

const SEED000_SESSION = `{
  "session_id": "uuid",
  "user_id": "uuid",
  "start_time": "2024-01-01T00:00:00Z",
  "end_time": "2024-01-01T00:30:00Z",
  "items_attempted": 20,
  "correct_count": 16,
  "total_time_ms": 1800000,
  "session_type": "practice",
  "topics_practiced": ["traffic_signs", "right_of_way"],
  "average_difficulty": 0.65
}`;

const SEED000_PLACEMENT = `{
  "placement_id": "uuid",
  "user_id": "uuid",
  "items_administered": 15,
  "overall_accuracy": 0.73,
  "was_completed": true,
  "end_reason": "completed_normally",
  "results": {
    "ability_estimates": {...},
    "recommendations": {...}
  }
}`;

const SEED001_ARRAY = `[
    {
      "event_id": "123e4567-e89b-12d3-a456-426614174000",
      "learner_id": "learner_001",
      "tenant_id": "tenant_alpha",
      "event_type": "interaction",
      "timestamp": "2024-01-15T10:30:00Z",
      "source_service": "learning-app",
      "event_data": {
        "action": "click",
        "element": "next_button"
      },
      "metadata": {}
    }
  ]`;

const SEED001_BATCH = `{
    "batch_id": "550e8400-e29b-41d4-a716-446655440000",
    "events": [...],
    "metadata": {
      "source": "mobile-app",
      "version": "2.1.0"
    }
  }`;

const SEED001_BASE_EVENT = `{
  "event_id": "uuid",
  "learner_id": "uuid",
  "tenant_id": "uuid",
  "event_type": "interaction|progress|assessment|error|system",
  "priority": "low|medium|high|critical",
  "timestamp": "2024-01-15T10:30:00Z",
  "source_service": "service-name",
  "event_data": {
    "action": "click",
    "element": "button_id",
    "custom_fields": "..."
  },
  "metadata": {
    "session_id": "session_123",
    "additional_context": "..."
  }
}`;

const SEED004_EVENT = `{
  "event_name": "product_view",
  "channel": "web",
  "campaign_id": "summer_sale_2024",
  "user_id": "user_12345",
  "timestamp": 1708732800000,
  "tags": ["electronics", "featured"],
  "metadata": {
    "product_id": "SKU-001",
    "page_url": "/products/laptop"
  }
}`;

const json = { 'content-type': 'application/json' };

describe('seed example requests', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startIngress();
  });
  afterAll(async () => {
    await h.close();
  });

  test('seed 000 attempt example → 202 with the event id; written once to the landing topic keyed by user_id', async () => {
    const res = await h.inject({ method: 'POST', url: '/api/v1/events/attempt', headers: json, payload: SEED000_ATTEMPT });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ success: true, event_id: 'uuid', event_type: 'attempt', status: 'accepted', duplicate: false });
    expect(typeof res.json().processing_time_ms).toBe('number');
    const records = await h.records();
    expect(records).toHaveLength(1);
    expect(records[0]!.key!.toString()).toBe('uuid');
    const envelope = JSON.parse(records[0]!.value!.toString());
    expect(envelope).toMatchObject({ v: 1, event_id: 'uuid', id_assigned: false, event_type: 'attempt', source: 'seed000' });
    expect(envelope.payload).toEqual(JSON.parse(SEED000_ATTEMPT));
  });

  test('seed 000 session example → 202 (its own id namespace: not a duplicate of the attempt "uuid")', async () => {
    const res = await h.inject({ method: 'POST', url: '/api/v1/events/session', headers: json, payload: SEED000_SESSION });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ success: true, event_id: 'uuid', event_type: 'session', status: 'accepted' });
  });

  test('seed 000 placement example: literal "{...}" is not JSON → 400 with an error; with {} filled in → 202', async () => {
    const literal = await h.inject({ method: 'POST', url: '/api/v1/events/placement', headers: json, payload: SEED000_PLACEMENT });
    expect(literal.statusCode).toBe(400);
    expect(literal.json()).toMatchObject({ success: false });
    expect(literal.json().error).toMatch(/JSON/);
    const filled = await h.inject({ method: 'POST', url: '/api/v1/events/placement', headers: json, payload: SEED000_PLACEMENT.replace(/\{\.\.\.\}/g, '{}') });
    expect(filled.statusCode).toBe(202);
    expect(filled.json()).toMatchObject({ success: true, event_id: 'uuid', event_type: 'placement', status: 'accepted' });
  });

  test('seed 000 batch of the three examples → 200 with per-index results', async () => {
    const events = [JSON.parse(SEED000_ATTEMPT), JSON.parse(SEED000_SESSION), JSON.parse(SEED000_PLACEMENT.replace(/\{\.\.\.\}/g, '{}'))];
    events.forEach((event, i) => {
      for (const field of ['client_attempt_id', 'session_id', 'placement_id']) if (field in event) event[field] = `batch-${i}`;
    });
    const res = await h.inject({ method: 'POST', url: '/api/v1/events/batch', payload: { events } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ success: true, total: 3, accepted: 3, rejected: 0 });
    expect(body.results.map((r: { event_type: string }) => r.event_type)).toEqual(['attempt', 'session', 'placement']);
    expect(body.results.map((r: { event_id: string }) => r.event_id)).toEqual(['batch-0', 'batch-1', 'batch-2']);
  });

  test('seed 001 simple array example → 200 with the documented response fields', async () => {
    const res = await h.inject({ method: 'POST', url: '/api/v1/collect', headers: json, payload: SEED001_ARRAY });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ accepted_count: 1, rejected_count: 0, dlq_events: [], warnings: [] });
    expect(typeof body.batch_id).toBe('string');
    expect(typeof body.processing_time_ms).toBe('number');
    expect(typeof body.kafka_partition).toBe('number');
    expect(body.event_ids).toEqual(['123e4567-e89b-12d3-a456-426614174000']);
    const written = (await h.envelopes()).filter((e) => e.source === 'collector');
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({ event_id: '123e4567-e89b-12d3-a456-426614174000', event_type: 'interaction' });
  });

  test('seed 001 batch example: literal "[...]" → 400; with events filled in → 200 echoing batch_id', async () => {
    const literal = await h.inject({ method: 'POST', url: '/api/v1/collect', headers: json, payload: SEED001_BATCH });
    expect(literal.statusCode).toBe(400);
    expect(literal.json().detail).toMatch(/JSON/);
    const events = JSON.parse(SEED001_ARRAY);
    events[0].event_id = 'batch-example-1';
    const filled = await h.inject({ method: 'POST', url: '/api/v1/collect', headers: json, payload: SEED001_BATCH.replace('[...]', JSON.stringify(events)) });
    expect(filled.statusCode).toBe(200);
    expect(filled.json()).toMatchObject({ batch_id: '550e8400-e29b-41d4-a716-446655440000', accepted_count: 1, rejected_count: 0 });
  });

  test('seed 001 gzipped request example → 200', async () => {
    const { gzipSync } = await import('node:zlib');
    const events = JSON.parse(SEED001_ARRAY);
    events[0].event_id = 'gzip-example-1';
    const res = await h.inject({
      method: 'POST',
      url: '/api/v1/collect',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: gzipSync(JSON.stringify(events)),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accepted_count: 1, rejected_count: 0 });
  });

  test('seed 001 base-structure example (placeholder enums) → 422, the event reported by index and sent to the DLQ', async () => {
    const res = await h.inject({ method: 'POST', url: '/api/v1/collect', headers: json, payload: `[${SEED001_BASE_EVENT}]` });
    expect(res.statusCode).toBe(422);
    const body = res.json();
    expect(body).toMatchObject({ accepted_count: 0, rejected_count: 1 });
    expect(body.dlq_events[0]).toMatchObject({ index: 0, event_id: 'uuid' });
    expect(body.dlq_events[0].error).toMatch(/event_type/);
    const dlq = await h.records(h.config.dlqTopic);
    expect(dlq.length).toBeGreaterThanOrEqual(1);
    expect(dlq[dlq.length - 1]!.headers).toMatchObject({ original_topic: h.config.landingTopic });
    expect(dlq[dlq.length - 1]!.headers.dlq_reason).toMatch(/event_type/);
  });

  test('seed 001 base-structure example with a real type and priority → 200', async () => {
    const event = JSON.parse(SEED001_BASE_EVENT);
    event.event_type = 'progress';
    event.priority = 'high';
    event.event_id = 'base-structure-1';
    const res = await h.inject({ method: 'POST', url: '/api/v1/collect', payload: [event] });
    expect(res.statusCode).toBe(200);
  });

  test('seed 004 event example → 202 {"status":"accepted"} exactly', async () => {
    const res = await h.inject({ method: 'POST', url: '/events', headers: json, payload: SEED004_EVENT });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ status: 'accepted' });
    expect(res.headers['x-event-id']).toMatch(/^[0-9a-f-]{36}$/);
    const written = (await h.envelopes()).filter((e) => e.source === 'product');
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({ event_type: 'product', id_assigned: true, event_id: res.headers['x-event-id'] });
  });

  test('seed 004 bulk of the example → 202', async () => {
    const event = JSON.parse(SEED004_EVENT);
    const res = await h.inject({ method: 'POST', url: '/events/bulk', payload: [event, { ...event, user_id: 'user_2' }] });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ status: 'accepted', count: 2 });
  });

  test('seed 004 validation: missing event_name → 400 {"error": "...event_name..."}', async () => {
    const event = JSON.parse(SEED004_EVENT);
    delete event.event_name;
    const res = await h.inject({ method: 'POST', url: '/events', payload: event });
    expect(res.statusCode).toBe(400);
    expect(Object.keys(res.json())).toEqual(['error']);
    expect(res.json().error).toMatch(/event_name is required/);
  });

  test('health and metrics routes answer in each seed shape', async () => {
    const health = await h.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({ status: 'healthy', components: { log: { status: 'up' } } });
    expect(typeof health.json().uptime_seconds).toBe('number');

    const ready = await h.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready' });

    const v1health = await h.inject({ method: 'GET', url: '/api/v1/health' });
    expect(v1health.statusCode).toBe(200);
    expect(v1health.json()).toMatchObject({ status: 'healthy', kafka_connected: true, buffer_status: { buffered_batches: 0, buffer_size_mb: 0 } });
    expect(v1health.json().throughput_metrics).toHaveProperty('events_per_second');
    expect(v1health.json()).toHaveProperty('uptime_seconds');

    const v1metrics = await h.inject({ method: 'GET', url: '/api/v1/metrics' });
    expect(v1metrics.statusCode).toBe(200);
    for (const field of ['events_processed_total', 'events_per_second', 'kafka_writes_total', 'dlq_events_total', 'buffer_events_count', 'avg_processing_time_ms', 'p99_processing_time_ms']) {
      expect(typeof v1metrics.json()[field]).toBe('number');
    }
    expect(v1metrics.json().dlq_events_total).toBeGreaterThanOrEqual(1);

    const prom = await h.inject({ method: 'GET', url: '/metrics' });
    expect(prom.statusCode).toBe(200);
    expect(prom.headers['content-type']).toMatch(/text\/plain/);
    expect(prom.body).toMatch(/streamline_ingress_events_accepted_total\{route="seed000",path="log"\} \d+/);
    expect(prom.body).toMatch(/streamline_ingress_request_duration_seconds_bucket/);
    // Each rejection counted once, by reason.
    expect(prom.body).toContain('streamline_ingress_events_rejected_total{route="product",reason="validation"} 1');
    expect(prom.body).toContain('streamline_ingress_events_rejected_total{route="seed000",reason="invalid_json"} 1');
    expect(prom.body).toContain('streamline_ingress_events_rejected_total{route="collector",reason="invalid_json"} 1');
    expect(prom.body).toContain('streamline_ingress_events_rejected_total{route="collector",reason="validation"} 1');

    const seed000json = await h.inject({ method: 'GET', url: '/metrics?format=json' });
    expect(seed000json.json()).toMatchObject({ circuit_breaker_state: 'closed' });
    expect(seed000json.json().events_processed).toBeGreaterThan(0);

    const noAnalytics = await h.inject({ method: 'GET', url: '/metrics?event_name=product_view&group_by=channel' });
    expect(noAnalytics.statusCode).toBe(503);
    expect(noAnalytics.json().error).toMatch(/analytics/);

    const publisher = await h.inject({ method: 'GET', url: '/metrics/publisher' });
    expect(publisher.json()).toMatchObject({ events_failed: 0, success_rate: 1 });
    expect(publisher.json().events_published).toBeGreaterThan(0);
    const publisherHealth = await h.inject({ method: 'GET', url: '/metrics/publisher/health' });
    expect(publisherHealth.statusCode).toBe(200);
    expect(publisherHealth.json().checks).toHaveProperty('circuit_breaker');
    const promAlias = await h.inject({ method: 'GET', url: '/metrics/prometheus' });
    expect(promAlias.body).toMatch(/streamline_ingress_events_received_total/);
  });
});

describe('GET /metrics with event_name delegates to the injected analytics query', () => {
  test('the query parameters reach it and its status and body are returned', async () => {
    const seen: Array<Record<string, string>> = [];
    const h = await startIngress({
      extra: {
        analytics: async (query) => {
          seen.push(query);
          return { statusCode: 200, body: { event_name: query.event_name, grouped_by: query.group_by, total_events: 0, unique_users: 0, data: [] } };
        },
        readinessChecks: [{ name: 'clickhouse', check: async () => false }],
      },
    });
    try {
      const res = await h.inject({ method: 'GET', url: '/metrics?event_name=product_view&from=1706745600&to=1706832000&group_by=channel' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ event_name: 'product_view', grouped_by: 'channel' });
      expect(seen[0]).toMatchObject({ from: '1706745600', to: '1706832000' });
      const ready = await h.inject({ method: 'GET', url: '/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({ status: 'not_ready', checks: { clickhouse: 'failed', log: 'ok' } });
      expect(ready.json().error).toMatch(/clickhouse/);
    } finally {
      await h.close();
    }
  });
});

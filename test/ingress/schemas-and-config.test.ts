import { describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../config/index.js';
import { CircuitBreaker } from '../../ingress/CircuitBreaker.js';
import { readIngressConfig } from '../../ingress/IngressConfig.js';
import { parseLandingEnvelope, EnvelopeError } from '../../ingress/LandingEnvelope.js';
import { SchemaCatalog, defaultSchemaDir, fieldErrors } from '../../ingress/SchemaCatalog.js';
import { startIngress } from './ingress-harness.js';
import { tempDir } from '../support/temp-dir.js';

describe('SchemaCatalog', () => {
  const catalog = new SchemaCatalog();

  test('declares the seeds\' event kinds from the schema files', () => {
    expect(catalog.eventTypes('seed000').sort()).toEqual(['attempt', 'placement', 'session']);
    expect(catalog.eventTypes('collector').sort()).toEqual(['assessment', 'error', 'interaction', 'progress', 'system']);
    expect(catalog.eventTypes('product')).toEqual(['product']);
    expect(catalog.kind('seed000', 'attempt')).toMatchObject({ idField: 'client_attempt_id', keyField: 'user_id', dedupeTtlMs: 86_400_000 });
    expect(catalog.kind('seed000', 'session')!.dedupeTtlMs).toBe(43_200_000);
    expect(catalog.kind('seed000', 'placement')!.dedupeTtlMs).toBe(604_800_000);
    expect(catalog.kind('collector', 'progress')).toMatchObject({ idField: 'event_id', keyField: 'learner_id' });
  });

  test('error messages name nested fields and array indexes', () => {
    const kind = catalog.kind('seed000', 'placement')!;
    expect(kind.validate({ placement_id: 'p', user_id: 'u', results: { ability_estimates: 3 }, overall_accuracy: 2 })).toBe(false);
    const messages = fieldErrors(kind.validate.errors).map((e) => e.message);
    expect(messages).toEqual(expect.arrayContaining(['results.ability_estimates must be of type object', 'overall_accuracy must be <= 1']));
  });

  test('adding an event type is adding a schema file', async () => {
    const dir = tempDir('schemas');
    try {
      fs.cpSync(defaultSchemaDir(), dir, { recursive: true });
      fs.writeFileSync(
        path.join(dir, 'collector/types/video.json'),
        JSON.stringify({
          $id: 'collector-video',
          'x-source': 'collector',
          'x-event-type': 'video',
          'x-id-field': 'event_id',
          'x-key-field': 'learner_id',
          type: 'object',
          allOf: [{ $ref: 'collector-event' }],
          properties: { event_data: { type: 'object', required: ['video_id'], properties: { video_id: { type: 'string' } } } },
        }),
      );
      const h = await startIngress({ extra: { schemaDirs: [dir] } });
      try {
        const base = { learner_id: 'l', tenant_id: 't', event_type: 'video', timestamp: '2024-01-15T10:30:00Z', source_service: 's' };
        const res = await h.inject({ url: '/api/v1/collect', payload: [{ ...base, event_id: 'v1', event_data: { video_id: 'abc' } }, { ...base, event_id: 'v2', event_data: {} }] });
        expect(res.statusCode).toBe(207);
        expect(res.json().dlq_events[0]).toMatchObject({ index: 1, error: 'event_data.video_id is required' });
        expect((await h.envelopes()).map((e) => [e.event_id, e.event_type])).toEqual([['v1', 'video']]);
      } finally {
        await h.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a broken schema file stops the start with its name', () => {
    const dir = tempDir('schemas-bad');
    try {
      fs.writeFileSync(path.join(dir, 'broken.json'), '{ "$id": "x", ');
      expect(() => new SchemaCatalog([dir])).toThrow(/broken\.json is not valid JSON/);
      fs.writeFileSync(path.join(dir, 'broken.json'), '{ "type": "object" }');
      expect(() => new SchemaCatalog([dir])).toThrow(/broken\.json has no "\$id"/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('readIngressConfig', () => {
  test('defaults and the seeds\' variable names', () => {
    const config = readIngressConfig({});
    expect(config).toMatchObject({ port: 8080, landingTopic: 'events.raw', dlqTopic: 'events-dlq', maxCollectorBatchEvents: 1000, maxSeed000BatchEvents: 100 });
    expect(config.spool).toMatchObject({ dir: './data/buffer', maxBytes: 100 * 1024 * 1024 });
    const env = readIngressConfig({
      SERVER_PORT: '9090',
      KAFKA_TOPIC: 'events',
      DLQ_TOPIC: 'dlq.events',
      BUFFER_DIR: '/tmp/b',
      MAX_BUFFER_SIZE_MB: '5',
      RATE_LIMIT_REQUESTS_PER_MINUTE: '100',
      RATE_LIMIT_BURST: '10',
      RATE_LIMIT_CLEANUP_INTERVAL: '30s',
      CIRCUIT_BREAKER_THRESHOLD: '3',
      CIRCUIT_BREAKER_TIMEOUT: '2s',
      CIRCUIT_BREAKER_MAX_REQUESTS: '2',
      REDIS_URL: 'redis://r:6379',
    });
    expect(env).toMatchObject({ port: 9090, landingTopic: 'events', dlqTopic: 'dlq.events', redisUrl: 'redis://r:6379' });
    expect(env.spool).toMatchObject({ dir: '/tmp/b', maxBytes: 5 * 1024 * 1024 });
    expect(env.rateLimit).toMatchObject({ requestsPerMinute: 100, burst: 10, cleanupIntervalMs: 30_000 });
    expect(env.breaker).toEqual({ threshold: 3, timeoutMs: 2000, maxRequests: 2 });
    expect(readIngressConfig({ PORT: '8083', SERVER_PORT: '9090' }).port).toBe(8083);
  });

  test('a bad value is one clear error naming the variable', () => {
    expect(() => readIngressConfig({ CIRCUIT_BREAKER_THRESHOLD: 'many' })).toThrow(ConfigError);
    expect(() => readIngressConfig({ CIRCUIT_BREAKER_THRESHOLD: 'many' })).toThrow(/CIRCUIT_BREAKER_THRESHOLD="many" is not an integer/);
    expect(() => readIngressConfig({ CIRCUIT_BREAKER_TIMEOUT: 'soon' })).toThrow(/CIRCUIT_BREAKER_TIMEOUT/);
    expect(() => readIngressConfig({ MAX_BUFFER_SIZE_MB: '0' })).toThrow(/MAX_BUFFER_SIZE_MB=0 is out of range/);
    expect(() => readIngressConfig({ INGRESS_MAX_EVENT_BYTES: '2000000', INGRESS_MAX_BODY_BYTES: '1000000' })).toThrow(/INGRESS_MAX_EVENT_BYTES/);
  });
});

describe('CircuitBreaker', () => {
  test('opens after threshold consecutive failures, half-opens after the timeout, closes after maxRequests successes', () => {
    let now = 0;
    const changes: string[] = [];
    const breaker = new CircuitBreaker({ threshold: 3, timeoutMs: 1000, maxRequests: 2, now: () => now, onStateChange: (from, to) => changes.push(`${from}>${to}`) });
    breaker.failure();
    breaker.failure();
    breaker.success(); // resets the consecutive count
    breaker.failure();
    breaker.failure();
    expect(breaker.state).toBe('closed');
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.remainingOpenMs()).toBe(1000);
    now = 1000;
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false); // only maxRequests probes
    breaker.failure(); // a failed probe reopens
    expect(breaker.state).toBe('open');
    now = 2000;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.success();
    expect(breaker.state).toBe('half_open');
    expect(breaker.tryAcquire()).toBe(true);
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(changes).toEqual(['closed>open', 'open>half_open', 'half_open>open', 'open>half_open', 'half_open>closed']);
  });
});

describe('parseLandingEnvelope', () => {
  test('accepts what the ingress writes and names what is wrong otherwise', () => {
    expect(parseLandingEnvelope('{"v":1,"event_id":"a","id_assigned":false,"event_type":"attempt","source":"seed000","received_at":1,"payload":{}}')).toMatchObject({ event_id: 'a' });
    expect(() => parseLandingEnvelope('nope')).toThrow(EnvelopeError);
    expect(() => parseLandingEnvelope('{"v":2}')).toThrow(/version/);
    expect(() => parseLandingEnvelope('{"v":1,"event_id":"a","event_type":"x","source":"s","received_at":1}')).toThrow(/payload/);
  });
});

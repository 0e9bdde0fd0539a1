import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import zlib from 'node:zlib';
import { type Harness, productEvent, startIngress } from './ingress-harness.js';

const collectorEvent = (i: number, extra: Record<string, unknown> = {}) => ({
  event_id: `c-${i}`,
  learner_id: `learner-${i % 5}`,
  tenant_id: 'tenant_alpha',
  event_type: 'interaction',
  timestamp: '2024-01-15T10:30:00Z',
  source_service: 'learning-app',
  event_data: { action: 'click', element: `el-${i}` },
  ...extra,
});

describe('request bodies: gzip, NDJSON, limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startIngress({ config: { maxBodyBytes: 1024 * 1024, maxEventBytes: 4096 } });
  });
  afterAll(async () => {
    await h.close();
  });

  test('gzip, deflate and br bodies are inflated', async () => {
    const body = JSON.stringify([collectorEvent(1), collectorEvent(2)]);
    for (const [encoding, compress] of [
      ['gzip', zlib.gzipSync],
      ['deflate', zlib.deflateSync],
      ['br', zlib.brotliCompressSync],
    ] as const) {
      const res = await h.inject({
        url: '/api/v1/collect',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        payload: compress(Buffer.from(body.replace(/c-/g, `${encoding}-`))),
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ accepted_count: 2, duplicate_count: 0 });
    }
  });

  test('NDJSON bodies (also gzipped) are one event per line', async () => {
    const ndjson = [collectorEvent(10), collectorEvent(11), collectorEvent(12)].map((e) => JSON.stringify(e)).join('\n') + '\n';
    const res = await h.inject({ url: '/api/v1/collect', headers: { 'content-type': 'application/x-ndjson' }, payload: ndjson });
    expect(res.statusCode).toBe(200);
    expect(res.json().event_ids).toEqual(['c-10', 'c-11', 'c-12']);

    const bulk = [productEvent(1, 'nd-user'), productEvent(2, 'nd-user')].map((e) => JSON.stringify(e)).join('\r\n');
    const gz = await h.inject({
      url: '/events/bulk',
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
      payload: zlib.gzipSync(bulk),
    });
    expect(gz.statusCode).toBe(202);
    expect(gz.json()).toMatchObject({ status: 'accepted', count: 2 });

    const seed000 = await h.inject({
      url: '/api/v1/events/batch',
      headers: { 'content-type': 'application/x-ndjson' },
      payload: JSON.stringify({ user_id: 'u', item_id: 'i', client_attempt_id: 'nd-a1' }) + '\n' + JSON.stringify({ user_id: 'u', placement_id: 'nd-p1' }),
    });
    expect(seed000.statusCode).toBe(200);
    expect(seed000.json().results.map((r: { event_type: string }) => r.event_type)).toEqual(['attempt', 'placement']);
  });

  test('a bad NDJSON line is a 400 naming the line', async () => {
    const res = await h.inject({ url: '/api/v1/collect', headers: { 'content-type': 'application/x-ndjson' }, payload: JSON.stringify(collectorEvent(1)) + '\n{"broken": \n' });
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toMatch(/line 2/);
  });

  test('a zip bomb (tiny gzip, huge inflated size) is refused with 413 without inflating it all', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(200 * 1024);
    const started = Date.now();
    const res = await h.inject({ url: '/api/v1/collect', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: bomb });
    expect(res.statusCode).toBe(413);
    expect(res.json().detail).toMatch(/too large|exceeds/);
    expect(Date.now() - started).toBeLessThan(5000);
    // The server is still there.
    expect((await h.inject({ url: '/health' })).statusCode).toBe(200);
  });

  test('a body over the limit is 413 in every adapter shape', async () => {
    const big = JSON.stringify([collectorEvent(1, { metadata: { pad: 'x'.repeat(1024 * 1024) } })]);
    const collector = await h.inject({ url: '/api/v1/collect', headers: { 'content-type': 'application/json' }, payload: big });
    expect(collector.statusCode).toBe(413);
    expect(collector.json()).toHaveProperty('detail');
    const product = await h.inject({ url: '/events', headers: { 'content-type': 'application/json' }, payload: big });
    expect(product.statusCode).toBe(413);
    expect(Object.keys(product.json())).toEqual(['error']);
    const seed000 = await h.inject({ url: '/api/v1/events/attempt', headers: { 'content-type': 'application/json' }, payload: big });
    expect(seed000.statusCode).toBe(413);
    expect(seed000.json()).toMatchObject({ success: false });
  });

  test('an event over the per-event limit: 413 alone, a per-index error inside a batch', async () => {
    const huge = productEvent(1, 'big', { metadata: { pad: 'y'.repeat(5000) } });
    const single = await h.inject({ url: '/events', payload: huge });
    expect(single.statusCode).toBe(413);
    expect(single.json().error).toMatch(/limit is 4096/);
    const batch = await h.inject({ url: '/api/v1/collect', payload: [collectorEvent(50), collectorEvent(51, { metadata: { pad: 'y'.repeat(5000) } })] });
    expect(batch.statusCode).toBe(207);
    expect(batch.json().dlq_events).toEqual([expect.objectContaining({ index: 1, event_id: 'c-51', error: expect.stringMatching(/bytes/) })]);
  });

  test('a 1001-event collector batch is 413; 1000 is accepted', async () => {
    const events = Array.from({ length: 1001 }, (_, i) => collectorEvent(10_000 + i));
    const tooMany = await h.inject({ url: '/api/v1/collect', payload: events });
    expect(tooMany.statusCode).toBe(413);
    expect(tooMany.json().detail).toMatch(/1001/);
    const before = (await h.records()).length;
    const ok = await h.inject({ url: '/api/v1/collect', payload: events.slice(0, 1000) });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().accepted_count).toBe(1000);
    expect((await h.records()).length - before).toBe(1000);
  });

  test('a 101-event seed 000 batch is 413; an empty collector batch is 400', async () => {
    const events = Array.from({ length: 101 }, (_, i) => ({ user_id: 'u', item_id: 'i', client_attempt_id: `over-${i}` }));
    const res = await h.inject({ url: '/api/v1/events/batch', payload: { events } });
    expect(res.statusCode).toBe(413);
    expect(res.json().details[0]).toMatchObject({ field: 'events' });
    const empty = await h.inject({ url: '/api/v1/collect', payload: [] });
    expect(empty.statusCode).toBe(400);
  });

  test('unsupported Content-Encoding is 415; a corrupt gzip body is 400; an unknown content type is 415', async () => {
    const zstd = await h.inject({ url: '/events', headers: { 'content-type': 'application/json', 'content-encoding': 'zstd' }, payload: '{}' });
    expect(zstd.statusCode).toBe(415);
    const corrupt = await h.inject({ url: '/events', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: Buffer.from('not gzip at all') });
    expect(corrupt.statusCode).toBe(400);
    expect(corrupt.json().error).toMatch(/gzip/);
    const xml = await h.inject({ url: '/events', headers: { 'content-type': 'application/xml' }, payload: '<event/>' });
    expect(xml.statusCode).toBe(415);
  });
});

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { eventShapeError } from '../../ingress/EventShape.js';
import { collectorEvent, type Harness, productEvent, startIngress } from './ingress-harness.js';

/**
 * Issue 12, parts 3 and 4 (ingress side): strings that are not well-formed UTF-16, deep JSON and
 * huge events are refused before anything is written, naming the field, and the DLQ copies of
 * refused collector events stay within the event size limit.
 */
const attempt = (id: string, extra: Record<string, unknown> = {}) => ({ user_id: 'u-1', item_id: 'item-1', client_attempt_id: id, correct: true, ...extra });

/** JSON text with a lone surrogate escape in place of the marker string (JSON.stringify would escape the backslash). */
const withLoneSurrogate = (value: unknown, marker = 'LONE') => JSON.stringify(value).replace(marker, 'lone\\ud800');
const json = { 'content-type': 'application/json' };

describe('poison input at the ingress', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startIngress({ config: { maxEventBytes: 64 * 1024 } });
  });
  afterAll(async () => {
    await h.close();
  });

  test('POST /events with "event_id":"lone\\ud800": 400 naming event_id, nothing written (it answered 500 after the write)', async () => {
    const before = (await h.records()).length;
    const reply = await h.inject({ url: '/events', headers: json, payload: withLoneSurrogate(productEvent(1, 'user-1', { event_id: 'LONE' })) });
    expect(reply.statusCode).toBe(400);
    expect(reply.json().error).toMatch(/^event_id is not well-formed UTF-16/);
    expect((await h.records()).length).toBe(before);
    const prom = await h.inject({ url: '/metrics' });
    expect(prom.body).toMatch(/streamline_ingress_events_rejected_total\{route="product",reason="malformed_text"\} 1/);
  });

  test('a lone surrogate anywhere (nested value, key) is refused on every single route, naming the field', async () => {
    const before = (await h.records()).length;
    const product = await h.inject({ url: '/events', headers: json, payload: withLoneSurrogate(productEvent(2, 'user-1', { properties: { nested: ['ok', 'LONE'] } })) });
    expect(product.statusCode).toBe(400);
    expect(product.json().error).toMatch(/^properties\.nested\[1\] is not well-formed/);

    const seed000 = await h.inject({ url: '/api/v1/events/attempt', headers: json, payload: withLoneSurrogate(attempt('a-1', { item_id: 'LONE' })) });
    expect(seed000.statusCode).toBe(400);
    expect(seed000.json().details).toEqual([expect.objectContaining({ field: 'item_id', message: expect.stringMatching(/not well-formed UTF-16/) })]);

    const key = await h.inject({ url: '/events', headers: json, payload: JSON.stringify(productEvent(3, 'user-1', { properties: { KEY: 1 } })).replace('KEY', 'k\\udc00') });
    expect(key.statusCode).toBe(400);
    expect(key.json().error).toMatch(/^properties\.k\uFFFD has a key that is not well-formed/);
    expect((await h.records()).length).toBe(before);
  });

  test('batches: the poisoned index is rejected naming its field (207), the others are written', async () => {
    const before = (await h.envelopes()).length;
    const bulk = await h.inject({ url: '/events/bulk', headers: json, payload: withLoneSurrogate([productEvent(10), productEvent(11, 'user-1', { channel: 'LONE' })]) });
    expect(bulk.statusCode).toBe(207);
    expect(bulk.json().errors).toEqual([{ index: 1, error: expect.stringMatching(/^events\[1\]: channel is not well-formed UTF-16/) }]);

    const batch = await h.inject({ url: '/api/v1/events/batch', headers: json, payload: withLoneSurrogate([attempt('b-1', { session_id: 'LONE' }), attempt('b-2')]) });
    expect(batch.statusCode).toBe(207);
    expect(batch.json().results[0]).toMatchObject({ status: 'rejected', errors: [{ field: 'session_id' }] });

    const collect = await h.inject({ url: '/api/v1/collect', headers: json, payload: withLoneSurrogate([collectorEvent('c-1'), collectorEvent('c-2', { event_data: { note: 'LONE' } })]) });
    expect(collect.statusCode).toBe(207);
    expect(collect.json().dlq_events).toEqual([expect.objectContaining({ index: 1, errors: [expect.objectContaining({ field: 'event_data.note' })] })]);

    const written = (await h.envelopes()).slice(before).map((e) => e.event_id);
    expect(written.sort()).toEqual(['b-2', 'c-1', 'evt-10']);
  });

  test('a well-formed surrogate pair (an emoji, escaped or not) is accepted and X-Event-Id stays encodable', async () => {
    const escaped = await h.inject({ url: '/events', headers: json, payload: JSON.stringify(productEvent(20, 'user-1', { event_id: 'EMOJI' })).replace('EMOJI', 'smile-\\ud83d\\ude00') });
    expect(escaped.statusCode).toBe(202);
    expect(escaped.headers['x-event-id']).toBe(encodeURIComponent('smile-\u{1F600}'));
    const plain = await h.inject({ url: '/events', payload: productEvent(21, 'user-1', { event_id: 'raw-\u{1F600}' }) });
    expect(plain.statusCode).toBe(202);
  });

  test('100k-deep JSON on /api/v1/collect: 4xx for that event, the good events of the batch kept (it was a 500 for the whole batch)', async () => {
    const depth = 100_000;
    const deep = '{"event_data":{"x":' + '['.repeat(depth) + ']'.repeat(depth) + '}}';
    const body = '[' + JSON.stringify(collectorEvent('deep-good')) + ',' + JSON.stringify(collectorEvent('deep-bad')).slice(0, -1) + ',"extra":' + deep + '}]';
    const reply = await h.inject({ url: '/api/v1/collect', headers: json, payload: body });
    expect(reply.statusCode).toBe(207);
    expect(reply.json().dlq_events).toEqual([expect.objectContaining({ index: 1, event_id: 'deep-bad' })]);
    expect((await h.envelopes()).some((e) => e.event_id === 'deep-good')).toBe(true);
  });

  test('deep JSON within the size limit is refused naming where it gets too deep, on every source', async () => {
    // As text: JSON.stringify itself overflows the stack a few thousand levels down.
    const nest = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
    const withNested = (event: object, field: string, levels: number) => JSON.stringify(event).replace(`"${field}"`, nest(levels));
    const collect = await h.inject({
      url: '/api/v1/collect',
      headers: json,
      payload: '[' + JSON.stringify(collectorEvent('d-good')) + ',' + withNested(collectorEvent('d-bad', { event_data: { x: 'NEST' } }), 'NEST', 5000) + ']',
    });
    expect(collect.statusCode).toBe(207);
    expect(collect.json().dlq_events[0].errors[0]).toEqual({
      // event 1, event_data 2, x 3: the 30th nested array is the 33rd level.
      field: 'event_data.x' + '[0]'.repeat(30),
      message: expect.stringMatching(/nests deeper than 32 levels$/),
    });
    const product = await h.inject({ url: '/events', headers: json, payload: withNested(productEvent(30, 'user-1', { properties: { x: 'NEST' } }), 'NEST', 40) });
    expect(product.statusCode).toBe(400);
    expect(product.json().error).toMatch(/nests deeper than 32 levels/);
    // 32 levels is allowed: the event object, properties, and 30 arrays.
    const allowed = await h.inject({ url: '/events', headers: json, payload: withNested(productEvent(31, 'user-1', { properties: { x: 'NEST' } }), 'NEST', 30) });
    expect(allowed.statusCode).toBe(202);
  });

  test('DLQ records of refused events: built from the raw text and truncated to the event limit (a 9 MB event x3 grew the log 28 MB)', async () => {
    const dlqBefore = await h.records(h.config.dlqTopic);
    const big = collectorEvent('huge', { event_data: { blob: 'x'.repeat(9 * 1024 * 1024) } });
    for (let i = 0; i < 3; i++) {
      const reply = await h.inject({ url: '/api/v1/collect', payload: [big] });
      expect(reply.statusCode).toBe(422);
      expect(reply.json().dlq_events[0].errors[0].message).toMatch(/the limit is 65536/);
    }
    const added = (await h.records(h.config.dlqTopic)).slice(dlqBefore.length);
    expect(added).toHaveLength(3);
    const bytes = added.reduce((sum, record) => sum + record.value!.length + (record.key?.length ?? 0), 0);
    expect(bytes).toBeLessThan(3 * (64 * 1024 + 4096));
    const value = JSON.parse(added[0]!.value!.toString('utf8')) as Record<string, unknown>;
    expect(value).toMatchObject({ v: 1, source: 'collector', event_id: 'huge', payload: null, payload_truncated: true });
    expect(value.payload_bytes).toBeGreaterThan(9 * 1024 * 1024);
    expect(String(value.payload_head).startsWith('{"event_id":"huge"')).toBe(true);

    // A small refused event is embedded as the JSON it was, byte for byte.
    const text = '{"event_id":"small-bad",  "learner_id":"learner-1","event_type":"nope"}';
    const small = await h.inject({ url: '/api/v1/collect', headers: json, payload: '[' + text + ']' });
    expect(small.statusCode).toBe(422);
    const last = (await h.records(h.config.dlqTopic)).at(-1)!.value!.toString('utf8');
    expect(last.endsWith(',"payload":' + text + '}')).toBe(true);
  });

  test('an 8 MB batch_id is refused (it was copied into the answer and into every DLQ record of the batch)', async () => {
    const dlqBefore = (await h.records(h.config.dlqTopic)).length;
    const reply = await h.inject({ url: '/api/v1/collect', payload: { batch_id: 'b'.repeat(8 * 1024 * 1024), events: Array.from({ length: 100 }, () => ({})) } });
    expect(reply.statusCode).toBe(400);
    expect(reply.json()).toMatchObject({ error: 'validation', errors: [{ field: 'batch_id' }] });
    expect((await h.records(h.config.dlqTopic)).length).toBe(dlqBefore);
  });

  test('eventShapeError walks without recursion and clips field paths built from huge keys', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = { a: deep };
    expect(eventShapeError(deep, 32, false)?.error.message).toMatch(/nests deeper than 32 levels$/);
    const key = 'k'.repeat(1_000_000);
    const error = eventShapeError({ [key]: 'lone\ud800' }, 32, true);
    expect(error?.reason).toBe('malformed_text');
    expect(error?.error.field.length).toBeLessThanOrEqual(201);
    expect(eventShapeError({ ok: ['\u{1F600}', { fine: 'text' }] }, 32, true)).toBeNull();
  });
});

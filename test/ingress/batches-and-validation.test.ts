import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { collectorEvent, type Harness, productEvent, startIngress } from './ingress-harness.js';

describe('batches and validation', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startIngress();
  });
  afterAll(async () => {
    await h.close();
  });

  test('a mixed collector batch: 207, per-index errors naming fields, good events written exactly once, bad ones in the DLQ', async () => {
    const events = [
      collectorEvent('m-0'),
      collectorEvent('m-1', { learner_id: undefined }),
      collectorEvent('m-2', { event_type: 'telemetry' }),
      collectorEvent('m-3', { priority: 'urgent', timestamp: 'yesterday' }),
      'not an object',
      collectorEvent('m-5', { event_data: { score: 'eight' } }),
      collectorEvent('m-6'),
    ];
    const res = await h.inject({ url: '/api/v1/collect', payload: { batch_id: 'mixed-1', events, metadata: { source: 'test' } } });
    expect(res.statusCode).toBe(207);
    const body = res.json();
    expect(body).toMatchObject({ batch_id: 'mixed-1', accepted_count: 2, rejected_count: 5, event_ids: ['m-0', 'm-6'] });
    const byIndex = Object.fromEntries(body.dlq_events.map((d: { index: number; error: string }) => [d.index, d.error]));
    expect(Object.keys(byIndex).map(Number)).toEqual([1, 2, 3, 4, 5]);
    expect(byIndex[1]).toMatch(/learner_id is required/);
    expect(byIndex[2]).toMatch(/event_type must be one of: .*interaction/);
    expect(byIndex[3]).toMatch(/priority must be one of: low, medium, high, critical/);
    expect(byIndex[3]).toMatch(/timestamp must be a valid date-time/);
    expect(byIndex[4]).toMatch(/must be a JSON object/);
    expect(byIndex[5]).toMatch(/event_data\.score must be of type number/);

    const landed = (await h.envelopes()).filter((e) => e.source === 'collector');
    expect(landed.map((e) => e.event_id).sort()).toEqual(['m-0', 'm-6']);
    expect(landed[0]).toMatchObject({ event_type: 'assessment', payload: { priority: 'high', learner_id: 'learner-1' } });
    const dlq = await h.records(h.config.dlqTopic);
    expect(dlq).toHaveLength(5);
    for (const record of dlq) {
      expect(Object.keys(record.headers).sort()).toEqual(expect.arrayContaining(['dlq_reason', 'dlq_timestamp', 'original_topic']));
      expect(record.headers.original_topic).toBe(h.config.landingTopic);
      expect(Number.isNaN(Date.parse(record.headers.dlq_timestamp!))).toBe(false);
      const value = JSON.parse(record.value!.toString());
      expect(value).toMatchObject({ batch_id: 'mixed-1', source: 'collector' });
      expect(value.dlq_reason).toBe(record.headers.dlq_reason);
    }

    // The same batch again: good events are duplicates now, not written twice.
    const again = await h.inject({ url: '/api/v1/collect', payload: { batch_id: 'mixed-1', events } });
    expect(again.statusCode).toBe(207);
    expect(again.json()).toMatchObject({ accepted_count: 2, duplicate_count: 2 });
    expect(again.json().warnings[0]).toMatch(/duplicate/);
    expect((await h.envelopes()).filter((e) => e.source === 'collector')).toHaveLength(2);
  });

  test('seed 000: missing and wrongly typed fields → 400 with field-level details', async () => {
    const res = await h.inject({
      url: '/api/v1/events/attempt',
      payload: { item_id: 'i', client_attempt_id: 'a-bad', correct: 'yes', time_taken_ms: 1.5, quality: 9 },
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.success).toBe(false);
    const fields = Object.fromEntries(body.details.map((d: { field: string; message: string }) => [d.field, d.message]));
    expect(fields.user_id).toBe('user_id is required');
    expect(fields.correct).toBe('correct must be of type boolean');
    expect(fields.time_taken_ms).toBe('time_taken_ms must be an integer');
    expect(fields.quality).toMatch(/^quality must be <= 5/);

    const session = await h.inject({ url: '/api/v1/events/session', payload: { session_id: 's', user_id: 'u', start_time: 'noon', topics_practiced: ['a', 3] } });
    expect(session.statusCode).toBe(400);
    const messages = session.json().details.map((d: { message: string }) => d.message);
    expect(messages).toEqual(expect.arrayContaining(['start_time must be a valid date-time', 'topics_practiced[1] must be of type string']));

    const notObject = await h.inject({ url: '/api/v1/events/placement', payload: [1, 2] });
    expect(notObject.statusCode).toBe(400);
    const unknown = await h.inject({ url: '/api/v1/events/quiz', payload: {} });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error).toMatch(/attempt, placement, session/);
  });

  test('seed 000 batch: partial → 207 per index; all bad → 400; wrapped {event_type, data} items', async () => {
    const res = await h.inject({
      url: '/api/v1/events/batch',
      payload: {
        events: [
          { event_type: 'attempt', data: { user_id: 'u', item_id: 'i', client_attempt_id: 'b-1' } },
          { type: 'session', payload: { session_id: 'b-2', user_id: 'u' } },
          { user_id: 'u', weird: true },
        ],
      },
    });
    expect(res.statusCode).toBe(207);
    const body = res.json();
    expect(body).toMatchObject({ success: false, total: 3, accepted: 1, rejected: 2 });
    expect(body.results[0]).toMatchObject({ index: 0, status: 'accepted', event_id: 'b-1' });
    expect(body.results[1]).toMatchObject({ index: 1, status: 'rejected', event_id: 'b-2' });
    expect(body.results[1].errors[0].message).toBe('start_time is required');
    expect(body.results[2].errors[0].message).toMatch(/event_type is required/);
    const grouped = await h.inject({
      url: '/api/v1/events/batch',
      payload: { attempts: [{ user_id: 'u', item_id: 'i', client_attempt_id: 'g-1' }], placements: [{ user_id: 'u', placement_id: 'g-2' }] },
    });
    expect(grouped.statusCode).toBe(200);
    expect(grouped.json().results.map((r: { event_type: string; event_id: string }) => `${r.event_type}:${r.event_id}`)).toEqual(['attempt:g-1', 'placement:g-2']);
    const none = await h.inject({ url: '/api/v1/events/batch', payload: [{ user_id: 'u' }] });
    expect(none.statusCode).toBe(400);
    expect(none.json().details[0]).toMatchObject({ index: 0, field: 'event_type' });
  });

  test('seed 004: each rule names its field; bulk partial → 207, all bad → 400', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...productEvent(1), user_id: undefined }, /^user_id is required$/],
      [{ ...productEvent(1), timestamp: '2024-01-01' }, /^timestamp must be an integer$/],
      [{ ...productEvent(1), timestamp: undefined }, /^timestamp is required$/],
      [{ ...productEvent(1), channel: 'fax' }, /^channel must be one of: web, mobile, api, email, push, ""$/],
      [{ ...productEvent(1), tags: 'x' }, /^tags must be of type array$/],
      [{ ...productEvent(1), event_name: '' }, /^event_name must not be empty$/],
    ];
    for (const [event, message] of cases) {
      const res = await h.inject({ url: '/events', payload: event });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: expect.stringMatching(message) });
    }
    const empty = await h.inject({ url: '/events', payload: { ...productEvent(2), channel: '' } });
    expect(empty.statusCode).toBe(202);

    const bulk = await h.inject({ url: '/events/bulk', payload: { events: [productEvent(3), { event_name: 'x' }] } });
    expect(bulk.statusCode).toBe(207);
    expect(bulk.json()).toMatchObject({ status: 'partial', accepted: 1, rejected: 1, errors: [{ index: 1 }] });
    expect(bulk.json().errors[0].error).toMatch(/events\[1\]: user_id is required; timestamp is required/);
    const allBad = await h.inject({ url: '/events/bulk', payload: [{}] });
    expect(allBad.statusCode).toBe(400);
    expect(allBad.json().error).toMatch(/events\[0\]: event_name is required/);
  });

  test('events without a client id get a UUID, returned and written with id_assigned', async () => {
    const { event_id: _unused, ...noId } = productEvent(99, 'anon');
    const res = await h.inject({ url: '/events', payload: noId });
    expect(res.statusCode).toBe(202);
    const id = res.headers['x-event-id'] as string;
    const landed = (await h.envelopes()).find((e) => e.event_id === id);
    expect(landed).toMatchObject({ id_assigned: true, source: 'product', payload: noId });
    const collector = await h.inject({ url: '/api/v1/collect', payload: [collectorEvent('x', { event_id: undefined })] });
    expect(collector.json().event_ids[0]).toMatch(/^[0-9a-f-]{36}$/);
  });
});

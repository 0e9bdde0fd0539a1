import { parseLandingEvent, toLandingEnvelope, UnparseableEventError } from '../../processors/LandingEvent.js';

const T = Date.UTC(2024, 0, 15, 10, 0, 0);
const envelope = (event_type: string, payload: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  Buffer.from(JSON.stringify({ v: 1, event_id: 'e1', id_assigned: false, event_type, source: 'seed000', received_at: T, payload, ...extra }));

describe('parseLandingEvent', () => {
  test('seed 000 attempt in the ingress envelope: typed, keyed by the record key, event time = received_at when the payload has none', () => {
    const event = parseLandingEvent('u1', envelope('attempt', { user_id: 'u1', item_id: 'i1', client_attempt_id: 'e1', correct: true }), 0);
    expect(event).toMatchObject({ event_id: 'e1', event_type: 'attempt', kind: 'attempt', user_id: 'u1', received_at: T, event_time: T, source: 'seed000' });
  });

  test('session event time is its end_time; a client clock ahead of received_at is clamped', () => {
    const session = parseLandingEvent('u1', envelope('session', { session_id: 's', user_id: 'u1', start_time: '2024-01-15T09:00:00Z', end_time: '2024-01-15T09:30:00Z' }), 0);
    expect(session.event_time).toBe(Date.UTC(2024, 0, 15, 9, 30));
    const ahead = parseLandingEvent('u1', envelope('product', { event_name: 'x', user_id: 'u1', timestamp: T + 3_600_000 }), 0);
    expect(ahead.event_time).toBe(T);
  });

  test('collector (seed 001) and product (seed 004) events: kind, event time from timestamp, user agent from metadata', () => {
    const collector = parseLandingEvent('l1', envelope('interaction', { learner_id: 'l1', timestamp: '2024-01-15T09:59:00Z', metadata: { user_agent: 'Mozilla/5.0' } }, { source: 'collector' }), 0);
    expect(collector).toMatchObject({ kind: 'collector', event_type: 'interaction', user_id: 'l1', event_time: T - 60_000, user_agent: 'Mozilla/5.0' });
    const product = parseLandingEvent('u9', envelope('product', { event_name: 'view', user_id: 'u9', timestamp: T - 5000, channel: 'web' }, { source: 'product' }), 0);
    expect(product).toMatchObject({ kind: 'product', event_time: T - 5000 });
  });

  test('bare seed events without an envelope are recognised by shape and take the record timestamp', () => {
    const attempt = parseLandingEvent(null, Buffer.from(JSON.stringify({ user_id: 'u2', item_id: 'i', client_attempt_id: 'a-1' })), T);
    expect(attempt).toMatchObject({ event_id: 'a-1', event_type: 'attempt', user_id: 'u2', received_at: T });
    const placement = parseLandingEvent('u3', Buffer.from(JSON.stringify({ placement_id: 'p-1', user_id: 'u3', was_completed: true })), T);
    expect(placement).toMatchObject({ event_id: 'p-1', kind: 'placement' });
  });

  test.each([
    ['not JSON', Buffer.from('{oops'), /not JSON/],
    ['no value', null, /no value/],
    ['unknown type', envelope('teleport', {}), /unknown event_type "teleport"/],
    ['unrecognisable bare event', Buffer.from('{"a":1}'), /cannot tell the event type/],
    ['attempt without item', envelope('attempt', { user_id: 'u' }), /no item_id/],
  ])('%s is refused with a reason', (_name, value, reason) => {
    expect(() => parseLandingEvent('u', value, T)).toThrow(UnparseableEventError);
    expect(() => parseLandingEvent('u', value, T)).toThrow(reason);
  });

  test('no user id anywhere is refused', () => {
    expect(() => parseLandingEvent(null, envelope('product', { event_name: 'x' }), T)).toThrow(/no user id/);
  });

  test('toLandingEnvelope gives back an envelope that parses to the same event', () => {
    const event = parseLandingEvent('u1', envelope('attempt', { user_id: 'u1', item_id: 'i1' }, { user_agent: 'curl/8' }), 0);
    const again = parseLandingEvent('u1', Buffer.from(JSON.stringify(toLandingEnvelope(event))), 0);
    expect(again).toEqual(event);
  });
});

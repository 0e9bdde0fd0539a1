import { isWellFormedText, parseLandingEvent, repairLoneSurrogates, toLandingEnvelope, UnparseableEventError } from '../../processors/LandingEvent.js';

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

  describe('strings are made well-formed (a lone surrogate reaches ClickHouse as an insert it refuses)', () => {
    // The JSON text a Kafka producer can write: valid JSON, but "\ud800" is half a character.
    const lone = Buffer.from('{"v":1,"event_id":"lone\\ud800","event_type":"product","source":"product","received_at":' + T + ',"payload":{"event_name":"view\\udc00x","user_id":"u1","tags":["ok","\\ud83d"],"metadata":{"k\\ud800":"v","deep":[[{"x":"\\udfff"}]]}}}');

    test('every lone surrogate becomes U+FFFD, in values, arrays, nested objects and keys, and the repair is counted', () => {
      const counts: number[] = [];
      const event = parseLandingEvent('u1', lone, 0, (n) => counts.push(n));
      expect(event.event_id).toBe('lone\uFFFD');
      expect(event.payload).toEqual({ event_name: 'view\uFFFDx', user_id: 'u1', tags: ['ok', '\uFFFD'], metadata: { 'k\uFFFD': 'v', deep: [[{ x: '\uFFFD' }]] } });
      expect(counts).toEqual([5]);
      // The output topics carry JSON.stringify(event): no surrogate escape survives.
      expect(JSON.stringify(event)).not.toMatch(/\\u[dD][89a-fA-F]/);
      expect(isWellFormedText(JSON.stringify(event))).toBe(true);
    });

    test('a valid surrogate pair written as escapes is kept, and nothing is counted', () => {
      const counts: number[] = [];
      const event = parseLandingEvent('u1', Buffer.from('{"event_id":"e\\ud83d\\ude00","event_type":"product","payload":{"event_name":"\\uD83D\\uDE00","user_id":"u1"}}'), T, (n) => counts.push(n));
      expect(event.event_id).toBe('e😀');
      expect(event.payload.event_name).toBe('😀');
      expect(counts).toEqual([]);
    });

    test('a string value (not bytes) holding raw lone surrogates is repaired too', () => {
      const counts: number[] = [];
      const event = parseLandingEvent('u1', `{"event_id":"raw\ud800","event_type":"product","payload":{"event_name":"x","user_id":"u1"}}`, T, (n) => counts.push(n));
      expect(event.event_id).toBe('raw\uFFFD');
      expect(counts).toEqual([1]);
    });

    test('invalid UTF-8 bytes are already U+FFFD after decoding; the parse accepts them', () => {
      const bytes = Buffer.concat([Buffer.from('{"event_id":"b'), Buffer.from([0xed, 0xa0, 0x80, 0xff]), Buffer.from('","event_type":"product","payload":{"event_name":"x","user_id":"u1"}}')]);
      const event = parseLandingEvent('u1', bytes, T);
      expect(isWellFormedText(event.event_id)).toBe(true);
      expect(event.event_id).toMatch(/^b\uFFFD+$/);
    });

    test('the repair walk is iterative: a 100k-deep value with a surrogate escape does not overflow the stack', () => {
      const depth = 100_000;
      const parsed = JSON.parse('['.repeat(depth) + '"\\ud800"' + ']'.repeat(depth)) as unknown;
      expect(repairLoneSurrogates(parsed)).toBe(1);
      let inner: unknown = parsed;
      for (let i = 0; i < depth; i++) inner = (inner as unknown[])[0];
      expect(inner).toBe('\uFFFD');
    });
  });
});

describe('the shape of a parsed event', () => {
  const envelope = (payload: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    Buffer.from(JSON.stringify({ v: 1, event_id: 'e1', id_assigned: false, event_type: 'attempt', source: 'seed000', received_at: 1_000, payload, ...extra }));
  const payload = { user_id: 'u1', item_id: 'i1', client_attempt_id: 'e1', correct: true };

  // One hidden class for every event, so the enrichment's { ...event, enrichment } replaces a
  // property instead of adding one (which in V8 gives each copy a class of its own, ~1 µs).
  test('has the same own keys in the same order with and without a user agent, enrichment last', () => {
    const plain = parseLandingEvent('u1', envelope(payload), 0);
    const withAgent = parseLandingEvent('u1', envelope(payload, { user_agent: 'ua/1' }), 0);
    const keys = ['v', 'event_id', 'id_assigned', 'event_type', 'kind', 'source', 'received_at', 'event_time', 'user_id', 'payload', 'user_agent', 'enrichment'];
    expect(Object.keys(plain)).toEqual(keys);
    expect(Object.keys(withAgent)).toEqual(keys);
  });

  test('writes the same JSON as an event without the unset fields, enriched or not', () => {
    const plain = parseLandingEvent('u1', envelope(payload), 0);
    expect(JSON.stringify(plain)).toBe(
      '{"v":1,"event_id":"e1","id_assigned":false,"event_type":"attempt","kind":"attempt","source":"seed000","received_at":1000,"event_time":1000,"user_id":"u1","payload":{"user_id":"u1","item_id":"i1","client_attempt_id":"e1","correct":true}}',
    );
    const withAgent = parseLandingEvent('u1', envelope(payload, { user_agent: 'ua/1' }), 0);
    const enriched = { ...withAgent, enrichment: { user: null, item: null, derived: { local_hour: 0, time_of_day: 'night' as const, timezone: 'UTC' } } };
    expect(JSON.stringify(enriched)).toMatch(/"payload":\{[^}]*\},"user_agent":"ua\/1","enrichment":\{"user":null/);
  });
});

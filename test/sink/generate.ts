import type { LogRecord, ProducerRecord } from '../../log/Log.js';
import type { SinkRoute } from '../../sink/ClickHouseSink.js';
import { attemptMapper, byEventType, rawEventMapper } from '../../sink/RowMappers.js';
import { seededRandom } from '../support/seeded-random.js';

export const CHANNELS = ['web', 'mobile', 'api', 'email', 'push', ''];
export const EVENT_NAMES = ['product_view', 'add_to_cart', 'purchase'];

export interface ProductEvent {
  event_id: string;
  event_name: string;
  channel: string;
  user_id: string;
  timestamp: number;
}

/** Seed 004 product events spread over `hours` hours ending at endMs, with repeat users. */
export function generateEvents(count: number, endMs: number, hours: number, seed = 42): ProductEvent[] {
  const random = seededRandom(seed);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
  const events: ProductEvent[] = [];
  for (let i = 0; i < count; i++) {
    events.push({
      event_id: `evt-${seed}-${i}`,
      event_name: pick(EVENT_NAMES),
      channel: pick(CHANNELS),
      user_id: `user-${Math.floor(random() * 300)}`,
      timestamp: endMs - Math.floor(random() * hours * 3_600_000),
    });
  }
  return events;
}

/** The ingress envelope around a seed 004 event, as the landing topic carries it. */
export function envelope(event: ProductEvent): Record<string, unknown> {
  return {
    event_id: event.event_id,
    event_type: 'product',
    source: 'seed004',
    received_at: event.timestamp + 5,
    payload: {
      event_name: event.event_name,
      channel: event.channel,
      campaign_id: 'summer',
      user_id: event.user_id,
      timestamp: event.timestamp,
      tags: ['t1'],
      metadata: { product_id: 'SKU-1' },
    },
  };
}

export function asLogRecord(value: unknown, topic: string, partition: number, offset: number): LogRecord {
  return { topic, partition, offset, key: null, value: Buffer.from(JSON.stringify(value)), headers: {}, timestamp: 1_700_000_000_000 + offset };
}

/** Seed 004 answers computed straight from the events, without ClickHouse. */
export function expectedMetrics(events: ProductEvent[], eventName: string, from: number, to: number) {
  const firstHourMs = Math.floor(from / 3600) * 3600 * 1000;
  const inRange = events.filter(
    (e) => e.event_name === eventName && e.timestamp >= firstHourMs && Math.floor(e.timestamp / 3_600_000) * 3600 <= to,
  );
  const group = (keyOf: (e: ProductEvent) => string) => {
    const groups = new Map<string, { total: number; users: Set<string> }>();
    for (const e of inRange) {
      const key = keyOf(e);
      const g = groups.get(key) ?? { total: 0, users: new Set<string>() };
      g.total++;
      g.users.add(e.user_id);
      groups.set(key, g);
    }
    return new Map([...groups].map(([key, g]) => [key, { total_events: g.total, unique_users: g.users.size }]));
  };
  return {
    total_events: inRange.length,
    unique_users: new Set(inRange.map((e) => e.user_id)).size,
    byChannel: group((e) => e.channel),
    byHour: group((e) => new Date(Math.floor(e.timestamp / 3_600_000) * 3_600_000).toISOString().replace('.000Z', 'Z')),
  };
}

/**
 * Records that reach the sink and cannot become rows, each for a different reason, with what
 * the DLQ must say about them. All but the last two get through the row mapper and are refused
 * by the engine itself (chDB 26.7, found by trying): an event time beyond DateTime64's range
 * (the mapper writes the year as "+275760"), a lone surrogate (valid JSON text, but not UTF-8:
 * the engine's JSON reader refuses it), a negative number for a UInt32 column of the typed
 * table (the raw row of the same record goes in). Then a value that is not JSON, and one whose
 * mapper throws (with poisonRoutes).
 */
export interface PoisonCase {
  name: string;
  value: Buffer;
  reason: RegExp;
  /** The record's events_raw row goes in (only another table refuses it). */
  rawRow: boolean;
}

export function poisonCases(now: number, tag: string): PoisonCase[] {
  const product = (id: string, payload: Record<string, unknown> = {}) =>
    Buffer.from(JSON.stringify({ ...envelope({ event_id: id, event_name: 'purchase', channel: 'web', user_id: 'user-poison', timestamp: now - 1000 }), payload: { event_name: 'purchase', channel: 'web', user_id: 'user-poison', timestamp: now - 1000, ...payload } }));
  return [
    { name: 'event time out of range', value: product(`${tag}-far-future`, { timestamp: 8.64e15 }), reason: /events_db\.events_raw: Code: 41\..*CANNOT_PARSE_DATETIME/, rawRow: false },
    { name: 'lone surrogate', value: product(`${tag}-lone\ud800`), reason: /events_db\.events_raw: Code: 25\..*surrogate/, rawRow: false },
    {
      name: 'negative UInt32',
      value: Buffer.from(JSON.stringify({ event_id: `${tag}-attempt`, event_type: 'attempt', source: 'seed000', received_at: now - 900, payload: { client_attempt_id: `${tag}-attempt`, user_id: 'user-poison', item_id: 'i1', time_taken_ms: -5, timestamp: now - 1000 } })),
      reason: /events_db\.attempts: Code: 72\..*CANNOT_PARSE_NUMBER/,
      rawRow: true,
    },
    { name: 'not JSON', value: Buffer.from(`{"event_id":"${tag}-cut-short`), reason: /not JSON/, rawRow: false },
    { name: 'mapper throws', value: product(`${tag}-explode`, { explode: true }), reason: /row mapper of events_raw threw: refusing to map an exploding event/, rawRow: false },
  ];
}

/** events_raw (whose mapper throws on payload.explode) and attempts, from one topic. */
export function poisonRoutes(topic: string): SinkRoute[] {
  return [
    {
      topic,
      table: 'events_raw',
      map: (value, record) => {
        if ((value as { payload?: { explode?: unknown } } | null)?.payload?.explode) throw new Error('refusing to map an exploding event');
        return rawEventMapper(value, record);
      },
    },
    { topic, table: 'attempts', map: byEventType('attempt', attemptMapper) },
  ];
}

/** count small envelopes e<from>..e<from+count-1>, keyed by user_<n>: records whose order a test can read back from event_id. */
export function numberedEvents(topic: string, from: number, count: number): ProducerRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    topic,
    key: Buffer.from(`user_${from + i}`),
    value: Buffer.from(JSON.stringify({ event_id: `e${from + i}`, event_type: 'product', received_at: 1_700_000_000_000, payload: { event_name: 'view', user_id: `user_${from + i}` } })),
  }));
}

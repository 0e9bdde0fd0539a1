import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { writeConfluentFrame } from '../../processors/ConfluentWireFormat.js';

/**
 * What an upstream producer writes to the landing topic in the e2e tests: a mix of bare seed
 * 000 / 001 / 004 events with and without ids (those with ids sent twice), Protobuf in both
 * framings (encoded by `protoc --encode`, not by our code), invalid events and garbage bytes,
 * with the counts each should end up with.
 */
export interface LandingRecordSpec {
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
  /** What the DLQ reason must match, for a record that must be refused. */
  refusedWith?: RegExp;
}

const PROTO_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../proto');
export const LANDING_SCHEMA_ID = 42;

function protocEncode(message: string, text: string): Buffer {
  return execFileSync('protoc', [`--encode=${message}`, '-I', PROTO_DIR, '-I', '/usr/include', 'streamline/v1/landing.proto'], { input: text });
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const JSON_HEADERS = { 'content-type': 'application/json' };

export interface LandingTraffic {
  records: LandingRecordSpec[];
  /** Distinct valid events per product event_name (GET /metrics?event_name=...). */
  productCounts: Record<string, number>;
  attempts: number;
  sessions: number;
  placements: number;
  /** Distinct collector events per event_type. */
  collector: Record<string, number>;
  /** Every distinct valid event. */
  valid: number;
  refused: number;
}

/** A deterministic shuffle, so duplicates do not simply follow their original. */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const user = (i: number) => `user-${i % 13}`;
const timeAt = (now: number, i: number) => now - 60_000 + i;

// The events with client ids, by index: the e2e test also sends some of them over HTTP.
export const idViewEvent = (i: number, now: number) => ({ event_id: `id-view-${i}`, event_name: 'id_view', user_id: user(i), timestamp: timeAt(now, i), channel: 'mobile' });
export const attemptEvent = (i: number) => ({ user_id: user(i), item_id: `item-${i % 5}`, client_attempt_id: `att-${i}`, correct: i % 3 === 0, quality: 3, time_taken_ms: 4000 });
export const placementEvent = (i: number) => ({ placement_id: `place-${i}`, user_id: user(i), items_administered: 10 + i, overall_accuracy: 0.5, was_completed: true });
export const collectorEvent = (i: number, now: number, type: string, extra: Record<string, unknown> = {}) => ({
  learner_id: user(i),
  tenant_id: 'tenant-1',
  event_type: type,
  timestamp: new Date(timeAt(now, i)).toISOString(),
  source_service: 'web',
  ...extra,
});
export const progressEvent = (i: number, now: number) => collectorEvent(i, now, 'progress', { event_id: `prog-${i}` });

export function landingTraffic(now = Date.now()): LandingTraffic {
  const records: LandingRecordSpec[] = [];
  const ts = (i: number) => timeAt(now, i);
  // Seed 004, bare, no id: ids from their position.
  for (let i = 0; i < 100; i++) records.push({ key: user(i), value: json({ event_name: 'bare_view', user_id: user(i), timestamp: ts(i), channel: 'web' }), headers: JSON_HEADERS });
  // Seed 004 with ids, each twice, keyed by user id as the contract asks of repeated ids (a
  // null-keyed repeat may land on another partition's dedupe store: docs/LANDING.md, Key).
  for (let i = 0; i < 40; i++) {
    const record = { key: user(i), value: json(idViewEvent(i, now)), headers: JSON_HEADERS };
    records.push(record, { ...record });
  }
  // Protobuf by content type: a LandingEvent from protoc; the second ten carry ids and are sent twice.
  for (let i = 0; i < 20; i++) {
    const id = i >= 10 ? ` event_id: "pb-header-${i}"` : '';
    const value = protocEncode('streamline.v1.LandingEvent', `product {${id} event_name: "pb_header_view" user_id: "${user(i)}" timestamp: ${ts(i)} channel: "api" tags: "t1" }`);
    const record = { key: user(i), value, headers: { 'content-type': 'application/x-protobuf' } };
    records.push(record);
    if (i >= 10) records.push({ ...record });
  }
  // Protobuf in the Confluent wire format: ProductEvent is message index 4 of landing.proto; no key.
  for (let i = 0; i < 20; i++) {
    const message = protocEncode('streamline.v1.ProductEvent', `event_name: "pb_confluent_view" user_id: "${user(i)}" timestamp: ${ts(i)} channel: "email"`);
    records.push({ key: null, value: writeConfluentFrame(LANDING_SCHEMA_ID, [4], message), headers: {} });
  }
  // Seed 000: attempts, sessions and placements carry their ids (the HTTP routes' schemas require
  // them, so a seed 000 event without one is invalid: see the refused attempts below); each sent twice.
  for (let i = 0; i < 30; i++) {
    const record = { key: user(i), value: json(attemptEvent(i)), headers: JSON_HEADERS };
    records.push(record, { ...record });
  }
  for (let i = 0; i < 10; i++) {
    const record = {
      key: user(i),
      value: json({ session_id: `sess-${i}`, user_id: user(i), start_time: new Date(ts(i) - 600_000).toISOString(), end_time: new Date(ts(i)).toISOString(), items_attempted: 5, correct_count: 3 }),
      headers: JSON_HEADERS,
    };
    records.push(record, { ...record });
  }
  for (let i = 0; i < 8; i++) {
    const record = { key: user(i), value: json(placementEvent(i)), headers: JSON_HEADERS };
    records.push(record, { ...record });
  }
  // Seed 001: interactions without ids, progress events with ids sent twice.
  for (let i = 0; i < 30; i++) records.push({ key: user(i), value: json(collectorEvent(i, now, 'interaction', { event_data: { action: 'click' } })), headers: JSON_HEADERS });
  for (let i = 0; i < 10; i++) {
    const record = { key: user(i), value: json(progressEvent(i, now)), headers: JSON_HEADERS };
    records.push(record, { ...record });
  }
  // Invalid for their JSON Schema: the DLQ reason is the HTTP route's text, naming the field.
  for (let i = 0; i < 10; i++) records.push({ key: user(i), value: json({ event_name: 'bad_view', user_id: user(i), channel: 'web' }), headers: JSON_HEADERS, refusedWith: /^timestamp is required$/ });
  for (let i = 0; i < 5; i++) records.push({ key: user(i), value: json({ user_id: user(i), item_id: 'item-1', correct: true }), headers: { ...JSON_HEADERS, 'event-type': 'attempt' }, refusedWith: /^client_attempt_id is required$/ });
  for (let i = 0; i < 5; i++) records.push({ key: user(i), value: json(collectorEvent(i, now, 'interaction', { priority: 'urgent' })), headers: JSON_HEADERS, refusedWith: /^priority must be one of: low, medium, high, critical$/ });
  // Garbage.
  for (let i = 0; i < 5; i++) records.push({ key: null, value: Buffer.from([0xde, 0xad, 0xbe, 0xef, i]), headers: {}, refusedWith: /not JSON/ });
  for (let i = 0; i < 3; i++) records.push({ key: null, value: Buffer.from([0, 0, 0, 0, 99, 0, 1, 2, i]), headers: {}, refusedWith: /schema id 99; the landing topic takes schema id 42/ });
  for (let i = 0; i < 2; i++) records.push({ key: user(i), value: Buffer.from([0xff, 0xff, 0xff, i]), headers: { 'content-type': 'application/x-protobuf' }, refusedWith: /Protobuf message|holds no event/ });

  return {
    records: shuffled(records, 14),
    productCounts: { bare_view: 100, id_view: 40, pb_header_view: 20, pb_confluent_view: 20 },
    attempts: 30,
    sessions: 10,
    placements: 8,
    collector: { interaction: 30, progress: 10 },
    valid: 100 + 40 + 20 + 20 + 30 + 10 + 8 + 30 + 10,
    refused: 10 + 5 + 5 + 5 + 3 + 2,
  };
}

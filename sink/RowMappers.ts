import type { LogRecord } from '../log/Log.js';
import type { Row } from './AnalyticsStore.js';

/**
 * Record → rows. A mapper gets the record's value already parsed as JSON (undefined when the
 * value is not JSON) and returns the rows for ONE table: a row, several, or null to skip.
 *
 * Mappers must be pure functions of the record: after a crash the sink maps the same records
 * again and relies on getting the same rows in the same order (the dedup token names the
 * offsets, the chunking of large batches counts rows). No Date.now(), no randomness.
 */
export type RowMapper = (value: unknown, record: LogRecord) => Row | Row[] | null;

/** As a fallback: the log record's timestamp (when the ingress appended it). */
export const RECORD_TIME = Symbol('record timestamp');

type Kind = 'string' | 'int' | 'float' | 'bool' | 'datetime' | 'strings' | 'json';

/**
 * One column of a table-driven mapper: the paths to look in, first present wins ("payload.user_id"
 * walks into objects), how to coerce the value, and what to use when nothing is there.
 * `record` fills from the log record instead (its offset, timestamp...).
 */
export interface ColumnSpec {
  column: string;
  from?: string[];
  as: Kind;
  fallback?: unknown;
  record?: 'topic' | 'partition' | 'offset' | 'timestamp';
}

/** ClickHouse DateTime64(3) text, UTC. Numbers below 1e11 are taken as seconds, above as ms. */
export function toClickHouseDateTime(value: unknown): string | undefined {
  if (typeof value === 'number') {
    const ms = Math.abs(value) < 1e11 ? value * 1000 : value;
    return Number.isFinite(ms) ? formatMs(Math.round(ms)) : undefined;
  }
  if (typeof value === 'string') return textToClickHouseDateTime(value);
  if (value instanceof Date) {
    const ms = value.getTime();
    return Number.isFinite(ms) ? formatMs(Math.round(ms)) : undefined;
  }
  return undefined;
}

const NUMERIC = /^-?\d+(\.\d+)?$/;

// The last text converted, and its result: the events of one ingress request share their
// received_at (an ISO string), and Date.parse of it was a large part of mapping a row.
let lastText = '';
let lastTextResult: string | undefined;

function textToClickHouseDateTime(text: string): string | undefined {
  if (text === lastText) return lastTextResult;
  const trimmed = text.trim();
  let result: string | undefined;
  if (trimmed !== '') {
    const numeric = NUMERIC.test(trimmed);
    let ms = numeric ? Number(text) : Date.parse(text);
    if (numeric && Math.abs(ms) < 1e11) ms *= 1000;
    result = Number.isFinite(ms) ? formatMs(Math.round(ms)) : undefined;
  }
  lastText = text;
  lastTextResult = result;
  return result;
}

// Formatting (a Date, an ISO string, a slice and a replace) is done once per second of time:
// received_at and the record timestamp are the same for every event of an ingress request, and
// event times of a live stream mostly share their second. Two seconds are kept: a row formats
// two times (the event's and the ingress's), mostly in different seconds, and one slot thrashed
// between them. Only years 0000-9999, where the ISO text has this fixed shape; the rest go the
// long way (same text).
const cachedSeconds = [NaN, NaN];
const cachedPrefixes = ['', ''];
let slotToReplace = 0;
const FIXED_SHAPE_FROM_MS = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
const FIXED_SHAPE_TO_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

function formatMs(ms: number): string | undefined {
  if (ms < FIXED_SHAPE_FROM_MS || ms > FIXED_SHAPE_TO_MS) {
    const date = new Date(ms);
    return Number.isNaN(date.getTime()) ? undefined : date.toISOString().slice(0, 23).replace('T', ' ');
  }
  const second = Math.floor(ms / 1000);
  const milli = ms - second * 1000;
  return secondPrefix(second) + (milli < 10 ? '.00' : milli < 100 ? '.0' : '.') + milli;
}

function secondPrefix(second: number): string {
  if (second === cachedSeconds[0]) return cachedPrefixes[0]!;
  if (second === cachedSeconds[1]) return cachedPrefixes[1]!;
  const prefix = new Date(second * 1000).toISOString().slice(0, 19).replace('T', ' ');
  cachedSeconds[slotToReplace] = second;
  cachedPrefixes[slotToReplace] = prefix;
  slotToReplace ^= 1;
  return prefix;
}

function lookup(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const part of path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function coerce(value: unknown, kind: Kind): unknown {
  if (value === undefined || value === null) return undefined;
  switch (kind) {
    case 'string':
      return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
    case 'int': {
      const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : typeof value === 'boolean' ? Number(value) : NaN;
      return Number.isFinite(n) ? Math.trunc(n) : undefined;
    }
    case 'float': {
      const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
      return Number.isFinite(n) ? n : undefined;
    }
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (value === 1 || value === 'true' || value === '1') return true;
      if (value === 0 || value === 'false' || value === '0') return false;
      return undefined;
    case 'datetime':
      return toClickHouseDateTime(value);
    case 'strings':
      if (Array.isArray(value)) return value.map((item) => (typeof item === 'string' ? item : JSON.stringify(item)));
      return typeof value === 'string' ? [value] : undefined;
    case 'json':
      return typeof value === 'string' ? value : JSON.stringify(value);
  }
}

const EMPTY: Record<Kind, unknown> = { string: '', int: 0, float: 0, bool: false, datetime: '1970-01-01 00:00:00.000', strings: [], json: '{}' };

/**
 * A mapper from column specs. Tolerant: a missing or ill-typed field gets the fallback (or the
 * type's empty value), never an exception; a value that is not a JSON object maps to no row.
 */
export function specMapper(specs: readonly ColumnSpec[]): RowMapper {
  // Paths are split once here, not per record.
  const compiled = specs.map((spec) => ({ ...spec, paths: (spec.from ?? [spec.column]).map((path) => path.split('.')) }));
  return (value, record) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
    const row: Row = {};
    for (const spec of compiled) {
      let out: unknown;
      if (spec.record) {
        out = spec.record === 'timestamp' ? toClickHouseDateTime(record.timestamp) : record[spec.record];
      } else {
        for (const path of spec.paths) {
          out = coerce(lookup(value, path), spec.as);
          if (out !== undefined) break;
        }
      }
      if (out === undefined) out = spec.fallback === RECORD_TIME ? toClickHouseDateTime(record.timestamp) : (spec.fallback ?? EMPTY[spec.as]);
      row[spec.column] = out;
    }
    return row;
  };
}

const SOURCE_COLUMNS: ColumnSpec[] = [
  { column: 'topic', as: 'string', record: 'topic' },
  { column: 'partition', as: 'int', record: 'partition' },
  { column: 'offset', as: 'int', record: 'offset' },
];

/**
 * events_raw. Accepts the ingress envelope {event_id, event_type, source, received_at, payload}
 * and, tolerantly, a bare event (fields at the top level). For seed 004 product events the
 * payload is {event_name, channel, campaign_id, user_id, timestamp (ms), tags, metadata}.
 * event_name falls back to event_type, so learning events (seed 000) are countable too.
 */
export const RAW_EVENT_COLUMNS: ColumnSpec[] = [
  { column: 'event_id', from: ['event_id', 'payload.event_id', 'payload.client_attempt_id', 'payload.session_id', 'payload.placement_id', 'id'], as: 'string' },
  { column: 'event_type', from: ['event_type', 'type', 'payload.event_type'], as: 'string', fallback: 'event' },
  { column: 'event_name', from: ['payload.event_name', 'event_name', 'event_type', 'type'], as: 'string' },
  { column: 'channel', from: ['payload.channel', 'channel'], as: 'string' },
  { column: 'campaign_id', from: ['payload.campaign_id', 'campaign_id'], as: 'string' },
  { column: 'user_id', from: ['payload.user_id', 'user_id'], as: 'string' },
  { column: 'ts', from: ['payload.timestamp', 'timestamp', 'payload.start_time', 'received_at'], as: 'datetime', fallback: RECORD_TIME },
  { column: 'received_at', from: ['received_at'], as: 'datetime', fallback: RECORD_TIME },
  { column: 'source', from: ['source'], as: 'string' },
  { column: 'tags', from: ['payload.tags', 'tags'], as: 'strings' },
  { column: 'metadata', from: ['payload.metadata', 'metadata'], as: 'json' },
  { column: 'payload', from: ['payload'], as: 'json' },
  ...SOURCE_COLUMNS,
];

/** The whole value as payload when there is no envelope. */
const rawEventBase = specMapper(RAW_EVENT_COLUMNS);

export const rawEventMapper: RowMapper = (value, record) => {
  const row = rawEventBase(value, record);
  if (row && !Array.isArray(row) && value && typeof value === 'object' && !('payload' in value)) row.payload = JSON.stringify(value);
  return row;
};

export const ATTEMPT_COLUMNS: ColumnSpec[] = [
  { column: 'client_attempt_id', from: ['payload.client_attempt_id', 'client_attempt_id', 'event_id'], as: 'string' },
  { column: 'user_id', from: ['payload.user_id', 'user_id'], as: 'string' },
  { column: 'item_id', from: ['payload.item_id', 'item_id'], as: 'string' },
  { column: 'session_id', from: ['payload.session_id', 'session_id'], as: 'string' },
  { column: 'selected', from: ['payload.selected', 'selected'], as: 'string' },
  { column: 'correct', from: ['payload.correct', 'correct'], as: 'bool' },
  { column: 'quality', from: ['payload.quality', 'quality'], as: 'int' },
  { column: 'confidence', from: ['payload.confidence', 'confidence'], as: 'int' },
  { column: 'time_taken_ms', from: ['payload.time_taken_ms', 'time_taken_ms'], as: 'int' },
  { column: 'hints_used', from: ['payload.hints_used', 'hints_used'], as: 'int' },
  { column: 'device_type', from: ['payload.device_type', 'device_type'], as: 'string' },
  { column: 'app_version', from: ['payload.app_version', 'app_version'], as: 'string' },
  { column: 'ts', from: ['payload.timestamp', 'timestamp', 'received_at'], as: 'datetime', fallback: RECORD_TIME },
  { column: 'received_at', from: ['received_at'], as: 'datetime', fallback: RECORD_TIME },
  ...SOURCE_COLUMNS,
];

export const SESSION_COLUMNS: ColumnSpec[] = [
  { column: 'session_id', from: ['payload.session_id', 'session_id', 'event_id'], as: 'string' },
  { column: 'user_id', from: ['payload.user_id', 'user_id'], as: 'string' },
  { column: 'start_time', from: ['payload.start_time', 'start_time', 'received_at'], as: 'datetime', fallback: RECORD_TIME },
  { column: 'end_time', from: ['payload.end_time', 'end_time', 'payload.start_time', 'received_at'], as: 'datetime', fallback: RECORD_TIME },
  { column: 'items_attempted', from: ['payload.items_attempted', 'items_attempted'], as: 'int' },
  { column: 'correct_count', from: ['payload.correct_count', 'correct_count'], as: 'int' },
  { column: 'total_time_ms', from: ['payload.total_time_ms', 'total_time_ms'], as: 'int' },
  { column: 'session_type', from: ['payload.session_type', 'session_type'], as: 'string' },
  { column: 'topics_practiced', from: ['payload.topics_practiced', 'topics_practiced'], as: 'strings' },
  { column: 'average_difficulty', from: ['payload.average_difficulty', 'average_difficulty'], as: 'float' },
  { column: 'received_at', from: ['received_at'], as: 'datetime', fallback: RECORD_TIME },
  ...SOURCE_COLUMNS,
];

export const PLACEMENT_COLUMNS: ColumnSpec[] = [
  { column: 'placement_id', from: ['payload.placement_id', 'placement_id', 'event_id'], as: 'string' },
  { column: 'user_id', from: ['payload.user_id', 'user_id'], as: 'string' },
  { column: 'items_administered', from: ['payload.items_administered', 'items_administered'], as: 'int' },
  { column: 'overall_accuracy', from: ['payload.overall_accuracy', 'overall_accuracy'], as: 'float' },
  { column: 'was_completed', from: ['payload.was_completed', 'was_completed'], as: 'bool' },
  { column: 'end_reason', from: ['payload.end_reason', 'end_reason'], as: 'string' },
  { column: 'results', from: ['payload.results', 'results'], as: 'json' },
  { column: 'received_at', from: ['received_at'], as: 'datetime', fallback: RECORD_TIME },
  ...SOURCE_COLUMNS,
];

const WINDOW_KNOWN = new Set(['aggregator', 'key', 'window_start', 'window_end', 'count', 'sum', 'min', 'max']);

/**
 * window_aggregates, from the topology's aggregate topics: {aggregator, key, window_start,
 * window_end, count, sum?, min?, max?, ...}. Fields beyond those are kept as JSON in `fields`.
 * window_start/end may be epoch ms or ISO text.
 */
const windowAggregateBase = specMapper([
  { column: 'aggregator', as: 'string' },
  { column: 'key', as: 'string' },
  { column: 'window_start', as: 'datetime' },
  { column: 'window_end', as: 'datetime' },
  { column: 'count', as: 'int' },
  { column: 'sum', as: 'float' },
  { column: 'min', as: 'float' },
  { column: 'max', as: 'float' },
  { column: 'emitted_at', as: 'datetime', record: 'timestamp' },
  ...SOURCE_COLUMNS,
]);

export const windowAggregateMapper: RowMapper = (value, record) => {
  const base = windowAggregateBase(value, record);
  if (!base || Array.isArray(base)) return base;
  const rest: Record<string, unknown> = {};
  for (const [field, fieldValue] of Object.entries(value as Record<string, unknown>)) {
    if (!WINDOW_KNOWN.has(field)) rest[field] = fieldValue;
  }
  base.fields = JSON.stringify(rest);
  return base;
};

export const attemptMapper = specMapper(ATTEMPT_COLUMNS);
export const sessionMapper = specMapper(SESSION_COLUMNS);
export const placementMapper = specMapper(PLACEMENT_COLUMNS);

/** event_type values of the envelope that feed each typed table. */
export function byEventType(type: string, mapper: RowMapper): RowMapper {
  return (value, record) => {
    if (value === null || typeof value !== 'object') return null;
    const eventType = (value as Record<string, unknown>).event_type ?? (value as Record<string, unknown>).type;
    return eventType === type ? mapper(value, record) : null;
  };
}

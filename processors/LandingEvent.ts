import { createHash } from 'node:crypto';
import type { ItemProfile, UserProfile } from './ReferenceData.js';
import { NamedError } from '../errors/NamedError.js';

/**
 * The typed event every processor after the parser sees: the ingress's landing envelope
 * ({v, event_id, id_assigned, event_type, source, received_at, payload}) plus what the pipeline
 * learns on the way (user id, event time, enrichment, flags, routing hints).
 *
 * Output topics carry this object as JSON, so the ClickHouse row mappers (sink/RowMappers.ts)
 * find the client's fields under `payload.` as they do on the landing topic.
 */
export type EventKind = 'attempt' | 'session' | 'placement' | 'collector' | 'product';

export interface DerivedEnrichment {
  /** Attempts: rapid (< 1 s), fast (< 5 s), normal (< 15 s), slow (< 60 s), very_slow. */
  response_time_category?: 'rapid' | 'fast' | 'normal' | 'slow' | 'very_slow';
  /** Item difficulty against the user's skill level: matched (within 0.15), too_hard, too_easy. */
  difficulty_match?: 'matched' | 'too_hard' | 'too_easy';
  /** Hour of the event in the user's timezone (UTC when unknown), 0–23. */
  local_hour: number;
  time_of_day: 'night' | 'morning' | 'afternoon' | 'evening';
  /** The timezone local_hour was computed in. */
  timezone: string;
  /** Attempts: (correct ? 1 : 0) − item average accuracy; sessions: session accuracy − user average accuracy. */
  performance_vs_expected?: number;
  performance_category?: 'above' | 'as_expected' | 'below';
  /** Sessions: correct_count / items_attempted. */
  session_accuracy?: number;
  /** The user profile says the user is new (created within 7 days or no session yet). */
  is_new_user?: boolean;
}

export interface Enrichment {
  user: UserProfile | null;
  item: ItemProfile | null;
  derived: DerivedEnrichment;
}

export interface LearningEvent {
  v: 1;
  event_id: string;
  id_assigned: boolean;
  event_type: string;
  kind: EventKind;
  source: string;
  /** Epoch ms the ingress accepted the event (the landing record's timestamp). */
  received_at: number;
  /** Epoch ms the event happened, from the payload when it says so, never later than received_at. */
  event_time: number;
  user_id: string;
  user_agent?: string;
  payload: Record<string, unknown>;
  enrichment?: Enrichment;
  /** Marks set by filter rules with action allow (rapid_fire, perfect_score, ...). */
  flags?: string[];
  /** Routing hints set by filter rules with action route (high_value_analytics, onboarding, ...). */
  hints?: string[];
}

/** A landing record that cannot become a LearningEvent. Thrown from processors, so the runtime dead-letters it. */
export class UnparseableEventError extends NamedError {
  /** invalid: the record decoded but broke its JSON Schema; unparseable: anything else. */
  constructor(
    message: string,
    readonly kind: 'invalid' | 'unparseable' = 'unparseable',
  ) {
    super(message);
  }
}

const SEED000_TYPES = new Set(['attempt', 'session', 'placement']);
const COLLECTOR_TYPES = new Set(['interaction', 'progress', 'assessment', 'error', 'system']);

function kindOf(eventType: string): EventKind | undefined {
  if (SEED000_TYPES.has(eventType)) return eventType as EventKind;
  if (COLLECTOR_TYPES.has(eventType)) return 'collector';
  if (eventType === 'product') return 'product';
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Epoch ms from a number (seconds below 1e11, else ms) or ISO text; undefined when neither. */
export function toEpochMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value < 1e11 ? value * 1000 : value;
  if (typeof value === 'string' && value.length > 0) {
    const parsed = Date.parse(value);
    return Number.isFinite(parsed) && parsed >= 0 ? parsed : undefined;
  }
  return undefined;
}

/** A bare client event (no envelope): which seed shape it is, by its identifying fields. */
export function bareEventType(event: Record<string, unknown>): string | undefined {
  if (typeof event.event_type === 'string' && COLLECTOR_TYPES.has(event.event_type) && 'learner_id' in event) return event.event_type;
  if ('client_attempt_id' in event) return 'attempt';
  if ('placement_id' in event) return 'placement';
  if ('session_id' in event && ('start_time' in event || 'items_attempted' in event)) return 'session';
  if ('event_name' in event) return 'product';
  return undefined;
}

function idOf(type: string, event: Record<string, unknown>): string | undefined {
  if (type === 'attempt') return nonEmptyString(event.client_attempt_id);
  if (type === 'session') return nonEmptyString(event.session_id);
  if (type === 'placement') return nonEmptyString(event.placement_id);
  return nonEmptyString(event.event_id);
}

function eventTimeOf(kind: EventKind, payload: Record<string, unknown>, receivedAt: number): number {
  const claimed = kind === 'session' ? (toEpochMs(payload.end_time) ?? toEpochMs(payload.start_time)) : toEpochMs(payload.timestamp);
  // A client clock ahead of ours would push stream time forward and make everyone else late.
  if (claimed === undefined || claimed > receivedAt) return receivedAt;
  return claimed;
}

function userAgentOf(envelope: Record<string, unknown>, payload: Record<string, unknown>): string | undefined {
  const metadata = isObject(payload.metadata) ? payload.metadata : {};
  return (
    nonEmptyString(envelope.user_agent) ??
    nonEmptyString(payload.user_agent) ??
    nonEmptyString(metadata.user_agent) ??
    nonEmptyString(metadata.userAgent) ??
    nonEmptyString(metadata['user-agent'])
  );
}

/** The parse step's outcome for a record whose strings had to be repaired (streamline_processor_events_total{processor="parse"}). */
export const STRINGS_REPAIRED_OUTCOME = 'strings_repaired';

// JSON text can only yield a lone surrogate through a \uD800-\uDFFF escape: UTF-8 decoding
// (Buffer.toString) replaces invalid bytes with U+FFFD itself. So the walk below runs only when
// the text holds such an escape, and costs nothing on ordinary records.
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

type WellFormedString = string & { isWellFormed?: () => boolean; toWellFormed?: () => string };

/** String.prototype.isWellFormed where the runtime has it (Node 20), else the same test by regex. */
export function isWellFormedText(text: string): boolean {
  const native = (text as WellFormedString).isWellFormed;
  if (native) return native.call(text);
  LONE_SURROGATE.lastIndex = 0;
  return !LONE_SURROGATE.test(text);
}

/** String.prototype.toWellFormed: every lone surrogate becomes U+FFFD. */
export function toWellFormedText(text: string): string {
  const native = (text as WellFormedString).toWellFormed;
  return native ? native.call(text) : text.replace(LONE_SURROGATE, '\uFFFD');
}

/**
 * Replaces lone surrogates in every string (values and keys) of a parsed JSON value, in place,
 * and returns how many strings it changed. Why: such a string is valid in JavaScript and in JSON
 * text ("\ud800"), but not UTF-8: ClickHouse refuses the whole insert (Code 25,
 * CANNOT_PARSE_ESCAPE_SEQUENCE), and other consumers of the output topics may choke the same way.
 * Iterative (an explicit stack), so a deeply nested record cannot overflow the call stack.
 */
export function repairLoneSurrogates(root: unknown): number {
  let repaired = 0;
  const fix = (text: string): string => {
    if (isWellFormedText(text)) return text;
    repaired++;
    return toWellFormedText(text);
  };
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const item: unknown = node[i];
        if (typeof item === 'string') node[i] = fix(item);
        else if (typeof item === 'object' && item !== null) stack.push(item);
      }
    } else if (isObject(node)) {
      for (const key of Object.keys(node)) {
        let item = node[key];
        if (typeof item === 'string') item = node[key] = fix(item);
        else if (typeof item === 'object' && item !== null) stack.push(item);
        const fixedKey = fix(key);
        if (fixedKey !== key) {
          delete node[key];
          node[fixedKey] = item;
        }
      }
    }
  }
  return repaired;
}

/**
 * JSON.parse of a landing value with every string made well-formed (see repairLoneSurrogates).
 * onRepaired hears how many strings were changed, when any were.
 */
function parseWellFormed(value: Buffer | string, onRepaired?: (strings: number) => void): unknown {
  let text = typeof value === 'string' ? value : value.toString('utf8');
  let repaired = 0;
  // A string value (not bytes) may already hold lone surrogates outside any escape.
  if (typeof value === 'string' && !isWellFormedText(text)) {
    text = toWellFormedText(text);
    repaired++;
  }
  const parsed: unknown = JSON.parse(text);
  if (SURROGATE_ESCAPE.test(text)) repaired += repairLoneSurrogates(parsed);
  if (repaired > 0) onRepaired?.(repaired);
  return parsed;
}

/** Where a landing record sits in its topic: a bare event without a client id takes its id from here. */
export interface LandingPosition {
  topic: string;
  partition: number;
  offset: number;
}

/** What the landing contract adds to a record's own bytes (processors/LandingContract.ts). */
export interface LandingParseOptions {
  /** The producer's event-type header: the type of a bare event, instead of telling it by shape. */
  eventType?: string;
  /** The producer's idempotency-key header: the client id of a bare event whose payload has none. */
  clientId?: string;
  /** The record's position; without it a bare event with no client id is refused. */
  position?: LandingPosition;
  /** The JSON Schema check: the error text when the payload is invalid for its type, else undefined. */
  validate?: (eventType: string, payload: Record<string, unknown>, enveloped: boolean) => string | undefined;
}

// Any fixed UUID: the namespace of ids derived from a landing position (RFC 4122 name-based, v5).
const POSITION_ID_NAMESPACE = Buffer.from('6f1b9a3c2e4d4f5a8b7c9d0e1f2a3b4c', 'hex');

/**
 * The id of a bare event without a client id: a UUID (name-based, SHA-1, version 5) of its
 * topic, partition and offset. The same record always gets the same id, so a replay after a
 * crash decides exactly as the first run did and the sinks' event_id stays stable.
 */
export function positionEventId(position: LandingPosition): string {
  const hash = createHash('sha1').update(POSITION_ID_NAMESPACE).update(`${position.topic}/${position.partition}/${position.offset}`).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Parses a landing record into a LearningEvent. Accepts the ingress envelope and a bare seed
 * 000 / 001 / 004 event (its event-type header or its shape says its type; its id field, the
 * idempotency-key header, or an id derived from its position is the event id). Throws
 * UnparseableEventError naming what is wrong: not JSON, invalid for its JSON Schema, no event id,
 * an unknown event type, no user id. Strings (and the key) are made well-formed on the way: a
 * lone surrogate becomes U+FFFD, and onRepaired (if given) hears how many strings were changed;
 * the parse step counts it as the outcome STRINGS_REPAIRED_OUTCOME.
 *
 * @example
 *   builder.stream<string | null, Buffer>('events.raw', { valueSerde: bufferSerde })
 *     .mapValues((value, key) => parseLandingEvent(key, value, 0)) // throws → DLQ
 */
export function parseLandingEvent(
  key: string | null,
  value: Buffer | string | null,
  recordTimestamp: number,
  onRepaired?: (strings: number) => void,
  options: LandingParseOptions = {},
): LearningEvent {
  if (value === null || value === undefined) throw new UnparseableEventError('landing record has no value');
  let parsed: unknown;
  try {
    parsed = parseWellFormed(value, onRepaired);
  } catch (error) {
    throw new UnparseableEventError(`landing record value is not JSON: ${(error as Error).message}`);
  }
  return landingEventFromObject(key, parsed, recordTimestamp, onRepaired, options);
}

/** parseLandingEvent after decoding: `parsed` is the envelope or bare event as an object (from JSON or Protobuf). */
export function landingEventFromObject(
  key: string | null,
  parsed: unknown,
  recordTimestamp: number,
  onRepaired: ((strings: number) => void) | undefined,
  options: LandingParseOptions,
): LearningEvent {
  if (!isObject(parsed)) throw new UnparseableEventError('landing record value is not a JSON object');

  const enveloped = isObject(parsed.payload) && typeof parsed.event_type === 'string';
  const envelope: Record<string, unknown> = enveloped ? parsed : {};
  const payload: Record<string, unknown> = enveloped ? (parsed.payload as Record<string, unknown>) : parsed;
  const eventType = enveloped ? (parsed.event_type as string) : (nonEmptyString(options.eventType) ?? bareEventType(parsed));
  if (eventType === undefined) throw new UnparseableEventError('cannot tell the event type: no envelope event_type, no event-type header and no seed event shape');
  const kind = kindOf(eventType);
  if (kind === undefined) throw new UnparseableEventError(`unknown event_type "${eventType}"`);
  const invalid = options.validate?.(eventType, payload, enveloped);
  if (invalid !== undefined) throw new UnparseableEventError(invalid, 'invalid');

  let eventId = enveloped ? nonEmptyString(envelope.event_id) : (idOf(eventType, payload) ?? nonEmptyString(options.clientId));
  let idAssigned = enveloped && envelope.id_assigned === true;
  if (eventId === undefined && !enveloped && options.position !== undefined) {
    eventId = positionEventId(options.position);
    idAssigned = true;
  }
  if (eventId === undefined) throw new UnparseableEventError(`${eventType} event has no event id`);
  // The record key comes from the producer too (Kafka producers bypass the ingress).
  if (key !== null && !isWellFormedText(key)) {
    key = toWellFormedText(key);
    onRepaired?.(1);
  }
  const userId = nonEmptyString(key) ?? nonEmptyString(payload.user_id) ?? nonEmptyString(payload.learner_id);
  if (userId === undefined) throw new UnparseableEventError(`${eventType} event ${eventId} has no user id (record key, user_id or learner_id)`);
  if (kind === 'attempt' && nonEmptyString(payload.item_id) === undefined) throw new UnparseableEventError(`attempt ${eventId} has no item_id`);

  const receivedAt = typeof envelope.received_at === 'number' && Number.isFinite(envelope.received_at) ? envelope.received_at : recordTimestamp;
  // Every event has one shape, user_agent and enrichment included even when undefined (which
  // JSON.stringify leaves out, so the bytes are those of an event without them). Why: the
  // enrichment step copies the event as { ...event, enrichment }, and in V8 (Node 20) adding a
  // property the spread copy does not have gives each copy a hidden class of its own: ~1 µs per
  // event instead of ~50 ns, a new map per event for the GC, and every later property read of
  // the event megamorphic. Replacing a property the copy has keeps one shared class.
  return {
    v: 1,
    event_id: eventId,
    id_assigned: idAssigned,
    event_type: eventType,
    kind,
    source: nonEmptyString(envelope.source) ?? (kind === 'collector' ? 'collector' : kind === 'product' ? 'product' : 'seed000'),
    received_at: receivedAt,
    event_time: eventTimeOf(kind, payload, receivedAt),
    user_id: userId,
    payload,
    user_agent: userAgentOf(envelope, payload),
    enrichment: undefined,
  };
}

/** The landing envelope of an event again: what a DLQ record carries so a replay re-enters the pipeline. */
export function toLandingEnvelope(event: LearningEvent): Record<string, unknown> {
  const envelope: Record<string, unknown> = {
    v: 1,
    event_id: event.event_id,
    id_assigned: event.id_assigned,
    event_type: event.event_type,
    source: event.source,
    received_at: event.received_at,
    payload: event.payload,
  };
  if (event.user_agent !== undefined) envelope.user_agent = event.user_agent;
  return envelope;
}

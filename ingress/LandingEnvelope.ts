import type { EventSource } from './SchemaCatalog.js';
import { NamedError } from '../errors/NamedError.js';

/**
 * The value of every record the ingress writes to the landing topic: the client's event,
 * untouched, inside a small JSON envelope that says what it is and when it arrived. The record
 * key is the user id (seed 000, seed 004) or learner id (seed 001) as UTF-8; the record
 * timestamp is received_at. The topology parses this (see ingress/README.md).
 */
export interface LandingEnvelope {
  /** Envelope format version. */
  v: 1;
  /** The client's id (event_id, client_attempt_id, session_id, placement_id) or a UUID the ingress assigned. */
  event_id: string;
  /** True when the ingress assigned event_id (the client sent none). */
  id_assigned: boolean;
  /** attempt | session | placement (seed 000), interaction | progress | assessment | error | system (seed 001), product (seed 004). */
  event_type: string;
  /** Which API the event came through. */
  source: EventSource;
  /** Epoch milliseconds at which the ingress accepted the request. */
  received_at: number;
  /** The event exactly as the client sent it (after JSON parsing). */
  payload: Record<string, unknown>;
}

/** Builds envelope JSON by concatenation: the payload is serialised once and never re-parsed. */
export function landingValue(
  eventId: string,
  idAssigned: boolean,
  kindFragment: string,
  receivedAt: number,
  payloadJson: string,
): string {
  return (
    '{"v":1,"event_id":' +
    JSON.stringify(eventId) +
    (idAssigned ? ',"id_assigned":true' : ',"id_assigned":false') +
    kindFragment +
    ',"received_at":' +
    receivedAt +
    ',"payload":' +
    payloadJson +
    '}'
  );
}

/** The constant part of an envelope for one event kind, computed once per kind. */
export function kindFragment(eventType: string, source: EventSource): string {
  return ',"event_type":' + JSON.stringify(eventType) + ',"source":' + JSON.stringify(source);
}

export class EnvelopeError extends NamedError {}

/** Parses and checks a landing record value; throws EnvelopeError naming what is wrong. */
export function parseLandingEnvelope(value: Buffer | string | null): LandingEnvelope {
  if (value === null) throw new EnvelopeError('landing record has no value');
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch (error) {
    throw new EnvelopeError(`landing record value is not JSON: ${(error as Error).message}`);
  }
  const env = parsed as Partial<LandingEnvelope>;
  if (typeof env !== 'object' || env === null) throw new EnvelopeError('landing record value is not an object');
  if (env.v !== 1) throw new EnvelopeError(`unknown envelope version ${String(env.v)}`);
  if (typeof env.event_id !== 'string') throw new EnvelopeError('envelope.event_id is missing');
  if (typeof env.event_type !== 'string') throw new EnvelopeError('envelope.event_type is missing');
  if (typeof env.source !== 'string') throw new EnvelopeError('envelope.source is missing');
  if (typeof env.received_at !== 'number') throw new EnvelopeError('envelope.received_at is missing');
  if (typeof env.payload !== 'object' || env.payload === null) throw new EnvelopeError('envelope.payload is missing');
  return env as LandingEnvelope;
}

/** Headers of a DLQ record (the same names the topology's DLQ uses). */
export function dlqHeaders(reason: string, originalTopic: string, source: EventSource, now: number): Record<string, string> {
  return {
    dlq_reason: reason,
    dlq_timestamp: new Date(now).toISOString(),
    original_topic: originalTopic,
    source,
    retry_count: '0',
  };
}

import type protobuf from 'protobufjs';
import type { LandingContractConfig } from './PipelineConfig.js';
import { defaultSchemaCatalog, fieldErrors, type EventSource, type SchemaCatalog } from '../ingress/SchemaCatalog.js';
import type { RecordHeaders } from '../log/Log.js';
import { looksConfluentFramed, readConfluentFrame, WireFormatError } from './ConfluentWireFormat.js';
import { landingEventFromObject, parseLandingEvent, UnparseableEventError, type LandingPosition, type LearningEvent } from './LandingEvent.js';
import { decodeLandingMessage, ProtobufDecodeError, protoSchemas } from './ProtobufEvents.js';

/**
 * The landing topic's contract with upstream producers (docs/LANDING.md): what a record's value
 * may be (the ingress envelope, a bare seed event as JSON, Protobuf by header or in the Confluent
 * wire format), which headers a producer may set, and how each record is checked with the JSON
 * Schemas of the HTTP routes before it becomes a LearningEvent.
 */
export const LANDING_HEADERS = {
  /** application/json (default) or application/x-protobuf[; messageType=streamline.v1.Attempt]. */
  contentType: 'content-type',
  /** The event type of a bare event (attempt, session, placement, interaction, ..., product). */
  eventType: 'event-type',
  /** The client id of a bare event whose payload has none (as the HTTP Idempotency-Key header). */
  clientId: 'idempotency-key',
} as const;

export const PROTOBUF_CONTENT_TYPES: readonly string[] = ['application/x-protobuf', 'application/protobuf', 'application/vnd.google.protobuf'];

const SOURCE_OF_TYPE: Readonly<Record<string, EventSource>> = {
  attempt: 'seed000',
  session: 'seed000',
  placement: 'seed000',
  product: 'product',
};

/** A header value as text, case-insensitively by name (producers differ in how they spell them). */
function header(headers: RecordHeaders | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const exact = headers[name];
  if (exact !== undefined) return exact;
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

/** "application/x-protobuf; messageType=streamline.v1.Attempt" → protobuf with that message; JSON otherwise. */
function protobufContentType(contentType: string | undefined): { messageType: string | undefined } | undefined {
  if (contentType === undefined) return undefined;
  const [mime, ...params] = contentType.split(';').map((part) => part.trim());
  if (!PROTOBUF_CONTENT_TYPES.includes(mime!.toLowerCase())) return undefined;
  const param = params.map((p) => p.split('=')).find(([name]) => ['messagetype', 'proto'].includes(name!.trim().toLowerCase()));
  return { messageType: param?.[1]?.trim().replace(/^"|"$/g, '') };
}

export interface LandingRecord {
  key: string | null;
  value: Buffer | null;
  timestamp: number;
  headers?: RecordHeaders;
}

/**
 * Turns landing records into LearningEvents under the contract, or throws UnparseableEventError
 * with the reason the DLQ record carries (for a schema violation: the text the HTTP route
 * answers, naming each field).
 *
 * @example
 *   const decoder = new LandingDecoder(readPipelineConfig(env).landing);
 *   const event = decoder.decode(record, context.recordMetadata());
 */
export class LandingDecoder {
  private readonly schemas = protoSchemas();
  private readonly validate: (eventType: string, payload: Record<string, unknown>, enveloped: boolean) => string | undefined;

  constructor(
    private readonly config: LandingContractConfig = { validateEnvelopes: true },
    catalog: SchemaCatalog = defaultSchemaCatalog(),
  ) {
    this.validate = (eventType, payload, enveloped) => {
      if (enveloped && !config.validateEnvelopes) return undefined;
      const kind = catalog.kind(SOURCE_OF_TYPE[eventType] ?? 'collector', eventType);
      // An unknown type is refused by the parser with its own reason.
      if (kind === undefined || kind.validate(payload)) return undefined;
      return fieldErrors(kind.validate.errors)
        .map((error) => error.message)
        .join('; ');
    };
  }

  decode(record: LandingRecord, position: LandingPosition | undefined, onRepaired?: (strings: number) => void): LearningEvent {
    const options = {
      eventType: header(record.headers, LANDING_HEADERS.eventType),
      clientId: header(record.headers, LANDING_HEADERS.clientId),
      position,
      validate: this.validate,
    };
    const value = record.value;
    if (value === null || value === undefined) throw new UnparseableEventError('landing record has no value');
    const protobufType = protobufContentType(header(record.headers, LANDING_HEADERS.contentType));
    if (protobufType !== undefined) {
      const type = this.messageType(protobufType.messageType);
      return this.fromProtobuf(record, type, value, options, onRepaired);
    }
    if (looksConfluentFramed(value)) return this.fromConfluentFrame(record, value, options, onRepaired);
    return parseLandingEvent(record.key, value, record.timestamp, onRepaired, options);
  }

  private messageType(name: string | undefined): protobuf.Type {
    if (name === undefined) return this.schemas.landing;
    const type = this.schemas.landingFileMessages.find((candidate) => candidate.fullName === `.${name}` || candidate.name === name);
    if (!type) throw new UnparseableEventError(`content-type messageType "${name}" is not a landing message (${this.schemas.landingFileMessages.map((t) => t.fullName.slice(1)).join(', ')})`);
    return type;
  }

  private fromConfluentFrame(record: LandingRecord, value: Buffer, options: Parameters<typeof parseLandingEvent>[4], onRepaired?: (strings: number) => void): LearningEvent {
    let frame;
    try {
      frame = readConfluentFrame(value);
    } catch (error) {
      if (error instanceof WireFormatError) throw new UnparseableEventError(`landing record value starts with byte 0 but ${error.message}`);
      throw error;
    }
    const expected = this.config.protobufSchemaId;
    if (expected === undefined) throw new UnparseableEventError(`Confluent wire format record with schema id ${frame.schemaId}, but LANDING_PROTOBUF_SCHEMA_ID is not set`);
    if (frame.schemaId !== expected) throw new UnparseableEventError(`Confluent wire format record with schema id ${frame.schemaId}; the landing topic takes schema id ${expected} (LANDING_PROTOBUF_SCHEMA_ID)`);
    let type: protobuf.Type | undefined = this.schemas.landingFileMessages[frame.messageIndexes[0]!];
    for (const index of frame.messageIndexes.slice(1)) type = type?.nestedArray.filter((item): item is protobuf.Type => 'fieldsArray' in item)[index];
    if (!type) throw new UnparseableEventError(`message indexes [${frame.messageIndexes.join(', ')}] name no message of landing.proto`);
    return this.fromProtobuf(record, type, frame.message, options, onRepaired);
  }

  private fromProtobuf(record: LandingRecord, type: protobuf.Type, bytes: Buffer, options: Parameters<typeof parseLandingEvent>[4], onRepaired?: (strings: number) => void): LearningEvent {
    let decoded;
    try {
      decoded = decodeLandingMessage(type, bytes);
    } catch (error) {
      if (error instanceof ProtobufDecodeError) throw new UnparseableEventError(error.message);
      throw error;
    }
    // Protobuf strings are UTF-8 on the wire: decoding already replaced invalid bytes.
    return landingEventFromObject(record.key, decoded.event, record.timestamp, onRepaired, { ...options, eventType: decoded.eventType ?? options?.eventType });
  }
}

/**
 * The record's headers without the landing contract's own: they describe the landing bytes, and
 * an output record (JSON or Protobuf) saying content-type application/x-protobuf would mislead.
 */
export function withoutLandingHeaders(headers: RecordHeaders): RecordHeaders {
  let out: RecordHeaders | undefined;
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (lower === LANDING_HEADERS.contentType || lower === LANDING_HEADERS.eventType || lower === LANDING_HEADERS.clientId) {
      out ??= { ...headers };
      delete out[name];
    }
  }
  return out ?? headers;
}

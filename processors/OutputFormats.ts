import { protobufSerde } from '../state/ProtobufSerde.js';
import type { Serde } from '../state/Serde.js';
import { confluentFraming } from './ConfluentWireFormat.js';
import type { LearningEvent } from './LandingEvent.js';
import { ENRICHED_MESSAGE, fromJsonObject, protoSchemas, toJsonObject } from './ProtobufEvents.js';

/**
 * How routed output topics are written: JSON (the default: JSON.stringify of the LearningEvent)
 * or Protobuf (a streamline.v1.EnrichedEvent, proto/streamline/v1/enriched.proto). A topic's
 * format comes from PROTOBUF_OUTPUT_TOPICS (PipelineConfig.outputFormats); a routing rule's own `format` overrides it for the
 * records that rule routes.
 */
export type OutputFormat = 'json' | 'protobuf';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['json', 'protobuf'];

/** The content-type header on Protobuf output records, so a consumer of a mixed topic can tell. */
export const PROTOBUF_OUTPUT_CONTENT_TYPE = `application/x-protobuf; messageType=${ENRICHED_MESSAGE}`;

const PROTO3_DEFAULTS = { v: 0, event_id: '', id_assigned: false, event_type: '', kind: '', source: '', received_at: 0, event_time: 0, user_id: '', payload: {} };

/** EnrichedEvent's index in enriched.proto (its only top-level message after the helpers). */
function enrichedMessageIndex(): number {
  const { enriched } = protoSchemas();
  const file = enriched.filename;
  const siblings = (enriched.parent?.nestedArray ?? []).filter((item) => 'fieldsArray' in item && item.filename === file);
  return Math.max(0, siblings.indexOf(enriched));
}

/**
 * The Serde of LearningEvents as streamline.v1.EnrichedEvent messages: the event's fields under
 * the same names as its JSON twin, payload and profiles as google.protobuf.Struct. schemaId
 * frames each message in the Confluent wire format.
 */
export function enrichedEventSerde(schemaId?: number): Serde<LearningEvent> {
  const { enriched } = protoSchemas();
  return protobufSerde<LearningEvent>(enriched, {
    toObject: (event) => fromJsonObject(enriched, event as unknown as Record<string, unknown>) as unknown as Record<string, unknown>,
    // proto3 leaves default scalars off the wire: they come back as the JSON twin has them.
    fromMessage: (message) => ({ ...PROTO3_DEFAULTS, ...toJsonObject(enriched, message) }) as unknown as LearningEvent,
    framing: schemaId === undefined ? undefined : confluentFraming(schemaId, [enrichedMessageIndex()]),
  });
}

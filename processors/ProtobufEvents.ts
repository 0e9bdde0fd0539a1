import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { NamedError } from '../errors/NamedError.js';

/**
 * The Protocol Buffers schemas of the landing contract (proto/streamline/v1/landing.proto) and
 * of the enriched event (enriched.proto), loaded once with protobufjs, and the conversion
 * between their messages and the JSON the rest of the pipeline handles.
 *
 * Free-form objects are google.protobuf.Struct / Value: protobufjs leaves them as
 * {fields: {k: {stringValue}}} objects, so toJsonObject / fromJsonObject convert them to and
 * from plain JSON (the same object the HTTP route receives), walking the message type's fields.
 */
export const PROTO_PACKAGE = 'streamline.v1';
export const LANDING_MESSAGE = `${PROTO_PACKAGE}.LandingEvent`;
export const ENRICHED_MESSAGE = `${PROTO_PACKAGE}.EnrichedEvent`;

/** The landing event type each landing message stands for (CollectorEvent's own event_type says which). */
export const LANDING_MESSAGE_EVENT_TYPES: Readonly<Record<string, string | undefined>> = {
  [`${PROTO_PACKAGE}.Attempt`]: 'attempt',
  [`${PROTO_PACKAGE}.Session`]: 'session',
  [`${PROTO_PACKAGE}.Placement`]: 'placement',
  [`${PROTO_PACKAGE}.CollectorEvent`]: undefined,
  [`${PROTO_PACKAGE}.ProductEvent`]: 'product',
};

/** The proto/ directory: at the repository root, seen from processors/ or from dist/processors/. */
export function defaultProtoDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../proto'), path.resolve(here, '../../proto')];
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'streamline'))) ?? candidates[0]!;
}

export interface ProtoSchemas {
  root: protobuf.Root;
  landing: protobuf.Type;
  enriched: protobuf.Type;
  /** landing.proto's top-level messages in file order: what a Confluent message index counts. */
  landingFileMessages: protobuf.Type[];
}

let loaded: ProtoSchemas | undefined;

/** The schemas, loaded on first use (a missing or broken .proto file throws then, at start). */
export function protoSchemas(dir: string = defaultProtoDir()): ProtoSchemas {
  if (loaded) return loaded;
  const root = new protobuf.Root();
  // google/protobuf/*.proto come bundled with protobufjs; ours resolve under dir.
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : path.join(dir, target));
  root.loadSync(['streamline/v1/landing.proto', 'streamline/v1/enriched.proto'], { keepCase: true });
  root.resolveAll();
  const landing = root.lookupType(LANDING_MESSAGE);
  const pkg = root.lookup(PROTO_PACKAGE) as protobuf.Namespace;
  const landingFile = path.join(dir, 'streamline/v1/landing.proto');
  const landingFileMessages = pkg.nestedArray.filter((item): item is protobuf.Type => item instanceof protobuf.Type && item.filename === landingFile);
  loaded = { root, landing, enriched: root.lookupType(ENRICHED_MESSAGE), landingFileMessages };
  return loaded;
}

const STRUCT = '.google.protobuf.Struct';
const VALUE = '.google.protobuf.Value';
const LIST = '.google.protobuf.ListValue';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function valueToJson(value: Record<string, unknown>): Json {
  if ('structValue' in value && value.structValue) return structToJson(value.structValue as Record<string, unknown>);
  if ('listValue' in value && value.listValue) return listToJson(value.listValue as Record<string, unknown>);
  if ('stringValue' in value) return value.stringValue as string;
  if ('numberValue' in value) return value.numberValue as number;
  if ('boolValue' in value) return value.boolValue as boolean;
  return null;
}

function structToJson(struct: Record<string, unknown>): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries((struct.fields ?? {}) as Record<string, Record<string, unknown>>)) out[key] = valueToJson(value);
  return out;
}

function listToJson(list: Record<string, unknown>): Json[] {
  return ((list.values ?? []) as Array<Record<string, unknown>>).map(valueToJson);
}

function jsonToValue(json: unknown): Record<string, unknown> {
  if (json === null || json === undefined) return { nullValue: 0 };
  if (typeof json === 'string') return { stringValue: json };
  if (typeof json === 'number') return { numberValue: json };
  if (typeof json === 'boolean') return { boolValue: json };
  if (Array.isArray(json)) return { listValue: { values: json.map(jsonToValue) } };
  if (typeof json === 'object') return { structValue: jsonToStruct(json as Record<string, unknown>) };
  throw new TypeError(`cannot hold a ${typeof json} in a google.protobuf.Value`);
}

function jsonToStruct(json: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) if (value !== undefined) fields[key] = jsonToValue(value);
  return { fields };
}

/** Applies `convert` to every Struct/Value/ListValue field of `object` (a plain object of `type`), recursing into messages. */
function mapWellKnown(type: protobuf.Type, object: Record<string, unknown>, convert: (kind: string, value: unknown) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = { ...object };
  for (const field of type.fieldsArray) {
    const value = out[field.name];
    if (value === undefined || value === null || !field.resolvedType || !(field.resolvedType instanceof protobuf.Type)) continue;
    const nested = field.resolvedType;
    const each = (item: unknown): unknown =>
      [STRUCT, VALUE, LIST].includes(nested.fullName) ? convert(nested.fullName, item) : mapWellKnown(nested, item as Record<string, unknown>, convert);
    out[field.name] = field.repeated && Array.isArray(value) ? value.map(each) : each(value);
  }
  return out;
}

/** A decoded message as plain JSON: int64 as numbers, absent fields absent, Structs as objects. */
export function toJsonObject(type: protobuf.Type, message: protobuf.Message): Record<string, unknown> {
  const plain = type.toObject(message, { longs: Number, enums: String, defaults: false, oneofs: false });
  return mapWellKnown(type, plain, (kind, value) => (kind === STRUCT ? structToJson(value as Record<string, unknown>) : kind === LIST ? listToJson(value as Record<string, unknown>) : valueToJson(value as Record<string, unknown>)));
}

/** The message of `type` holding a plain JSON object (fields the schema does not have are dropped). */
export function fromJsonObject(type: protobuf.Type, json: Record<string, unknown>): protobuf.Message {
  const prepared = mapWellKnown(type, json, (kind, value) =>
    kind === STRUCT ? jsonToStruct(value as Record<string, unknown>) : kind === LIST ? { values: (value as unknown[]).map(jsonToValue) } : jsonToValue(value),
  );
  return type.fromObject(prepared);
}

/** Thrown when bytes are not a message of the expected type; the message names the type. */
export class ProtobufDecodeError extends NamedError {}

/**
 * A landing Protobuf message (a LandingEvent or one of the event messages) as the bare JSON event
 * it stands for, with its event type (undefined for a CollectorEvent without event_type, which
 * the JSON Schema then names).
 */
export function decodeLandingMessage(type: protobuf.Type, bytes: Uint8Array): { eventType: string | undefined; event: Record<string, unknown> } {
  let message: protobuf.Message;
  try {
    message = type.decode(bytes);
  } catch (error) {
    throw new ProtobufDecodeError(`value is not a ${type.fullName.slice(1)} Protobuf message: ${(error as Error).message}`);
  }
  const schemas = protoSchemas();
  if (type === schemas.landing) {
    const oneof = type.oneofs.event!;
    const chosen = oneof.fieldsArray.find((field) => Object.prototype.hasOwnProperty.call(message, field.name) && (message as unknown as Record<string, unknown>)[field.name] != null);
    if (!chosen) throw new ProtobufDecodeError('LandingEvent holds no event (set one of attempt, session, placement, collector, product)');
    const inner = chosen.resolvedType as protobuf.Type;
    const event = toJsonObject(inner, (message as unknown as Record<string, protobuf.Message>)[chosen.name]!);
    return { eventType: eventTypeOf(inner, event), event };
  }
  const event = toJsonObject(type, message);
  return { eventType: eventTypeOf(type, event), event };
}

function eventTypeOf(type: protobuf.Type, event: Record<string, unknown>): string | undefined {
  const name = type.fullName.slice(1);
  if (!(name in LANDING_MESSAGE_EVENT_TYPES)) throw new ProtobufDecodeError(`${name} is not a landing event message`);
  return LANDING_MESSAGE_EVENT_TYPES[name] ?? (typeof event.event_type === 'string' ? event.event_type : undefined);
}

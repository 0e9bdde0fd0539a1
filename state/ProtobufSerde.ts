import type protobuf from 'protobufjs';
import type { Serde } from './Serde.js';

export interface ProtobufSerdeOptions<T> {
  /** The value as a plain object of the message type (protobufjs fromObject shape); default the value itself. */
  toObject?: (value: T) => Record<string, unknown>;
  /** A decoded message back to a value; default type.toObject with int64 as numbers and enums as names. */
  fromMessage?: (message: protobuf.Message, type: protobuf.Type) => T;
  /**
   * A frame around each message, e.g. the Confluent wire format (processors/ConfluentWireFormat.ts
   * confluentFraming: magic byte 0, schema id, message indexes). Unset: bare Protobuf bytes.
   */
  framing?: MessageFraming;
}

/** Wraps encoded messages and unwraps them again, throwing when bytes are not framed as expected. */
export interface MessageFraming {
  frame(message: Uint8Array): Buffer;
  unframe(bytes: Buffer): Buffer;
}

/**
 * A Serde writing values as messages of one Protobuf type (protobufjs reflection, no generated
 * code), for the DSL's Produced/Consumed/Materialized like jsonSerde.
 *
 * Pure: the same value gives the same bytes (state/Serde.ts), since protobufjs writes fields in
 * field-number order and maps in insertion order.
 *
 * @example
 *   const { enriched } = protoSchemas();
 *   stream.to('ml.training_events', { valueSerde: protobufSerde<LearningEvent>(enriched, { toObject: enrichedEventObject }) });
 */
export function protobufSerde<T>(type: protobuf.Type, options: ProtobufSerdeOptions<T> = {}): Serde<T> {
  const toObject = options.toObject ?? ((value: T) => value as unknown as Record<string, unknown>);
  const fromMessage = options.fromMessage ?? ((message: protobuf.Message, t: protobuf.Type) => t.toObject(message, { longs: Number, enums: String }) as T);
  const framing = options.framing;
  return {
    serialize(value: T): Buffer {
      const bytes = type.encode(type.fromObject(toObject(value))).finish();
      return framing ? framing.frame(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    deserialize(bytes: Buffer): T {
      return fromMessage(type.decode(framing ? framing.unframe(bytes) : bytes), type);
    },
  };
}

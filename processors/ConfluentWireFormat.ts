import { NamedError } from '../errors/NamedError.js';
/**
 * The Confluent Schema Registry wire format for Protobuf, as its serializers write it:
 *
 *   byte 0       magic byte 0
 *   bytes 1..4   schema id, big-endian
 *   then         message indexes: a zigzag varint count, then that many zigzag varint indexes
 *                (the path to the message type in the .proto file: [0] is the first top-level
 *                message, [2, 1] the second nested message of the third); the count 0 alone,
 *                one byte 0x00, is the common case [0]
 *   then         the Protobuf message
 *
 * No registry is asked: the schema id is configured (LANDING_PROTOBUF_SCHEMA_ID) and checked.
 */
export const CONFLUENT_MAGIC_BYTE = 0;

export interface ConfluentFrame {
  schemaId: number;
  messageIndexes: number[];
  message: Buffer;
}

export class WireFormatError extends NamedError {}

function readZigzagVarint(bytes: Buffer, at: number): { value: number; next: number } {
  let result = 0;
  let shift = 0;
  let position = at;
  for (;;) {
    if (position >= bytes.length) throw new WireFormatError('message indexes end in the middle of a varint');
    const byte = bytes[position++]!;
    result += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
    shift += 7;
    if (shift > 28) throw new WireFormatError('a message index varint is longer than 5 bytes');
  }
  // zigzag: 0 → 0, 1 → -1, 2 → 1, ...
  const value = result % 2 === 0 ? result / 2 : -(result + 1) / 2;
  return { value, next: position };
}

function writeZigzagVarint(value: number, out: number[]): void {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  while (zigzag >= 0x80) {
    out.push((zigzag & 0x7f) | 0x80);
    zigzag = Math.floor(zigzag / 128);
  }
  out.push(zigzag);
}

/** True when the bytes start like a Confluent-framed record (JSON never starts with byte 0). */
export function looksConfluentFramed(bytes: Buffer): boolean {
  return bytes.length >= 6 && bytes[0] === CONFLUENT_MAGIC_BYTE;
}

/** Splits a framed record; throws WireFormatError naming what is wrong. */
export function readConfluentFrame(bytes: Buffer): ConfluentFrame {
  if (bytes.length < 6 || bytes[0] !== CONFLUENT_MAGIC_BYTE) throw new WireFormatError('not the Confluent wire format (magic byte 0, 4-byte schema id, message indexes)');
  const schemaId = bytes.readInt32BE(1);
  const count = readZigzagVarint(bytes, 5);
  if (count.value < 0 || count.value > 32) throw new WireFormatError(`message index count ${count.value} is out of range`);
  const messageIndexes: number[] = [];
  let next = count.next;
  for (let i = 0; i < count.value; i++) {
    const index = readZigzagVarint(bytes, next);
    if (index.value < 0) throw new WireFormatError(`message index ${index.value} is negative`);
    messageIndexes.push(index.value);
    next = index.next;
  }
  return { schemaId, messageIndexes: messageIndexes.length === 0 ? [0] : messageIndexes, message: bytes.subarray(next) };
}

/** Frames a message: [0] is written as the single byte 0, as Confluent's serializers do. */
export function writeConfluentFrame(schemaId: number, messageIndexes: number[], message: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header[0] = CONFLUENT_MAGIC_BYTE;
  header.writeInt32BE(schemaId, 1);
  const indexes: number[] = [];
  if (messageIndexes.length === 1 && messageIndexes[0] === 0) indexes.push(0);
  else {
    writeZigzagVarint(messageIndexes.length, indexes);
    for (const index of messageIndexes) writeZigzagVarint(index, indexes);
  }
  return Buffer.concat([header, Buffer.from(indexes), message]);
}

/** The Confluent frame as a ProtobufSerde framing: writes schemaId and messageIndexes, refuses any other schema id on read. */
export function confluentFraming(schemaId: number, messageIndexes: number[] = [0]): { frame(message: Uint8Array): Buffer; unframe(bytes: Buffer): Buffer } {
  return {
    frame: (message) => writeConfluentFrame(schemaId, messageIndexes, message),
    unframe: (bytes) => {
      const frame = readConfluentFrame(bytes);
      if (frame.schemaId !== schemaId) throw new WireFormatError(`schema id ${frame.schemaId} is not the configured ${schemaId}`);
      return frame.message;
    },
  };
}

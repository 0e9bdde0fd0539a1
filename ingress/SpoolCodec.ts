import { crc32 } from 'node:zlib';
import type { ProducerRecord } from '../log/Log.js';

/**
 * On-disk format of the spool. A segment file is a sequence of entries:
 *
 *   u32 magic "SPL1" | u32 payload length | u32 CRC32(payload) | payload
 *
 * and a payload is one group commit: u32 record count, then per record
 *   u8 flags (1 key null, 2 value null, 4 has partition) | u16 topic len | topic
 *   | u32 key len | key | u32 value len | value | f64 timestamp | i32 partition (flag 4)
 *   | u16 header count | (u16 name len | name | u32 value len | value)*
 * all big-endian. The magic lets recovery find the next good entry after a corrupt one.
 */
export const ENTRY_MAGIC = 0x53504c31;
export const ENTRY_HEADER_BYTES = 12;

export function encodeEntry(records: ProducerRecord[], now: number): Buffer {
  let size = 4;
  const encoded: Array<{ topic: Buffer; headers: Array<[Buffer, Buffer]> }> = [];
  for (const record of records) {
    const topic = Buffer.from(record.topic, 'utf8');
    const headers: Array<[Buffer, Buffer]> = [];
    if (record.headers) {
      for (const name of Object.keys(record.headers)) {
        headers.push([Buffer.from(name, 'utf8'), Buffer.from(record.headers[name]!, 'utf8')]);
      }
    }
    size += 1 + 2 + topic.length + 4 + (record.key?.length ?? 0) + 4 + (record.value?.length ?? 0) + 8 + 2;
    if (record.partition !== undefined) size += 4;
    for (const [name, value] of headers) size += 2 + name.length + 4 + value.length;
    encoded.push({ topic, headers });
  }
  const buf = Buffer.allocUnsafe(ENTRY_HEADER_BYTES + size);
  let pos = ENTRY_HEADER_BYTES;
  buf.writeUInt32BE(records.length, pos);
  pos += 4;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const { topic, headers } = encoded[i]!;
    buf.writeUInt8((record.key === null ? 1 : 0) | (record.value === null ? 2 : 0) | (record.partition !== undefined ? 4 : 0), pos);
    pos += 1;
    buf.writeUInt16BE(topic.length, pos);
    pos += 2;
    pos += topic.copy(buf, pos);
    buf.writeUInt32BE(record.key?.length ?? 0, pos);
    pos += 4;
    if (record.key) pos += record.key.copy(buf, pos);
    buf.writeUInt32BE(record.value?.length ?? 0, pos);
    pos += 4;
    if (record.value) pos += record.value.copy(buf, pos);
    buf.writeDoubleBE(record.timestamp ?? now, pos);
    pos += 8;
    if (record.partition !== undefined) {
      buf.writeInt32BE(record.partition, pos);
      pos += 4;
    }
    buf.writeUInt16BE(headers.length, pos);
    pos += 2;
    for (const [name, value] of headers) {
      buf.writeUInt16BE(name.length, pos);
      pos += 2;
      pos += name.copy(buf, pos);
      buf.writeUInt32BE(value.length, pos);
      pos += 4;
      pos += value.copy(buf, pos);
    }
  }
  const payload = buf.subarray(ENTRY_HEADER_BYTES);
  buf.writeUInt32BE(ENTRY_MAGIC, 0);
  buf.writeUInt32BE(payload.length, 4);
  buf.writeUInt32BE(crc32(payload), 8);
  return buf;
}

export function decodePayload(payload: Buffer): ProducerRecord[] {
  let pos = 0;
  const count = payload.readUInt32BE(pos);
  pos += 4;
  const records: ProducerRecord[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const flags = payload.readUInt8(pos);
    pos += 1;
    const topicLen = payload.readUInt16BE(pos);
    pos += 2;
    const topic = payload.toString('utf8', pos, pos + topicLen);
    pos += topicLen;
    const keyLen = payload.readUInt32BE(pos);
    pos += 4;
    const key = flags & 1 ? null : Buffer.from(payload.subarray(pos, pos + keyLen));
    pos += keyLen;
    const valueLen = payload.readUInt32BE(pos);
    pos += 4;
    const value = flags & 2 ? null : Buffer.from(payload.subarray(pos, pos + valueLen));
    pos += valueLen;
    const timestamp = payload.readDoubleBE(pos);
    pos += 8;
    let partition: number | undefined;
    if (flags & 4) {
      partition = payload.readInt32BE(pos);
      pos += 4;
    }
    const headerCount = payload.readUInt16BE(pos);
    pos += 2;
    const record: ProducerRecord = { topic, key, value, timestamp };
    if (partition !== undefined) record.partition = partition;
    if (headerCount > 0) {
      const headers: Record<string, string> = {};
      for (let h = 0; h < headerCount; h++) {
        const nameLen = payload.readUInt16BE(pos);
        pos += 2;
        const name = payload.toString('utf8', pos, pos + nameLen);
        pos += nameLen;
        const valueLength = payload.readUInt32BE(pos);
        pos += 4;
        headers[name] = payload.toString('utf8', pos, pos + valueLength);
        pos += valueLength;
      }
      record.headers = headers;
    }
    records[i] = record;
  }
  return records;
}

/** Checks the entry starting at pos; returns its payload length, or -1 when torn or corrupt. */
export function validEntryAt(buf: Buffer, pos: number): number {
  if (pos + ENTRY_HEADER_BYTES > buf.length) return -1;
  if (buf.readUInt32BE(pos) !== ENTRY_MAGIC) return -1;
  const length = buf.readUInt32BE(pos + 4);
  if (length < 4 || pos + ENTRY_HEADER_BYTES + length > buf.length) return -1;
  const payload = buf.subarray(pos + ENTRY_HEADER_BYTES, pos + ENTRY_HEADER_BYTES + length);
  if (crc32(payload) !== buf.readUInt32BE(pos + 8)) return -1;
  return length;
}

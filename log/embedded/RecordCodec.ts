import type { LogRecord, RecordHeaders } from '../Log.js';

/**
 * Stored form of one record, the body of an entry in a record batch (RecordBatch.ts; topic,
 * partition and base offset live in the RocksDB key):
 *
 *   timestamp f64 | keyLen i32 (-1 = null) | key | valueLen i32 (-1 = null) | value |
 *   headerCount u32 | (nameLen u32 | name | valueLen u32 | value)*
 *
 * Binary rather than JSON: this is the ingress hot path and values are already bytes.
 */

export interface StoredRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeaders | undefined;
  timestamp: number;
}

const FIXED = 8 + 4 + 4 + 4;

/** Bytes encodeRecordInto will write for this record. */
export function encodedSize(record: StoredRecord): number {
  let size = FIXED + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  const headers = record.headers;
  if (headers) {
    for (const name in headers) {
      size += 8 + Buffer.byteLength(name, 'utf8') + Buffer.byteLength(String(headers[name]), 'utf8');
    }
  }
  return size;
}

/**
 * Writes the record at `at` in `buf` (sized with encodedSize) and returns the end position.
 * Encoding into one slab per group commit spares an allocation per record on the hot path.
 */
export function encodeRecordInto(buf: Buffer, at: number, record: StoredRecord): number {
  buf.writeDoubleBE(record.timestamp, at);
  at += 8;
  at = writeBytes(buf, at, record.key);
  at = writeBytes(buf, at, record.value);
  const countAt = at;
  at += 4;
  let count = 0;
  const headers = record.headers;
  if (headers) {
    for (const name in headers) {
      at = writeString(buf, at, name);
      at = writeString(buf, at, String(headers[name]));
      count++;
    }
  }
  buf.writeUInt32BE(count, countAt);
  return at;
}

export function encodeRecord(record: StoredRecord): Buffer {
  const buf = Buffer.allocUnsafe(encodedSize(record));
  encodeRecordInto(buf, 0, record);
  return buf;
}

function writeString(buf: Buffer, at: number, text: string): number {
  const written = buf.write(text, at + 4, 'utf8');
  buf.writeUInt32BE(written, at);
  return at + 4 + written;
}

function writeBytes(buf: Buffer, at: number, bytes: Buffer | null): number {
  if (bytes === null) {
    buf.writeInt32BE(-1, at);
    return at + 4;
  }
  buf.writeInt32BE(bytes.length, at);
  bytes.copy(buf, at + 4);
  return at + 4 + bytes.length;
}

/** Decodes a stored record; key and value are views into `buf` (no copy). */
export function decodeRecord(topic: string, partition: number, offset: number, buf: Buffer): LogRecord {
  const timestamp = buf.readDoubleBE(0);
  let at = 8;
  const keyLen = buf.readInt32BE(at);
  at += 4;
  const key = keyLen < 0 ? null : buf.subarray(at, at + keyLen);
  if (keyLen > 0) at += keyLen;
  const valueLen = buf.readInt32BE(at);
  at += 4;
  const value = valueLen < 0 ? null : buf.subarray(at, at + valueLen);
  if (valueLen > 0) at += valueLen;
  const count = buf.readUInt32BE(at);
  at += 4;
  const headers: RecordHeaders = {};
  for (let i = 0; i < count; i++) {
    const nLen = buf.readUInt32BE(at);
    const name = buf.toString('utf8', at + 4, at + 4 + nLen);
    at += 4 + nLen;
    const vLen = buf.readUInt32BE(at);
    headers[name] = buf.toString('utf8', at + 4, at + 4 + vLen);
    at += 4 + vLen;
  }
  return { topic, partition, offset, key, value, headers, timestamp };
}

/** Just the key and whether the value is null: what compaction needs, without decoding headers. */
export function peekKeyAndTombstone(buf: Buffer): { key: Buffer | null; tombstone: boolean; timestamp: number } {
  const timestamp = buf.readDoubleBE(0);
  const keyLen = buf.readInt32BE(8);
  const key = keyLen < 0 ? null : buf.subarray(12, 12 + keyLen);
  const valueLen = buf.readInt32BE(12 + Math.max(keyLen, 0));
  return { key, tombstone: valueLen < 0, timestamp };
}

export function peekTimestamp(buf: Buffer): number {
  return buf.readDoubleBE(0);
}

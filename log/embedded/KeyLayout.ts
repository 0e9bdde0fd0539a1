/**
 * RocksDB key layout of the embedded log. One database, one column family, a one-byte prefix
 * per kind of entry. Offsets are written big-endian so RocksDB's bytewise order is offset order
 * and a partition is one contiguous key range.
 *
 *   0x00 "format"                                 → on-disk format version
 *   0x01 topic name                               → topic metadata (JSON)
 *   0x02 topicId u32 | partition u32 | baseOffset u64 → record batch (RecordBatch.ts)
 *   0x03 topicId u32 | partition u32 | 0x00       → end offset u64 (next offset to assign)
 *   0x03 topicId u32 | partition u32 | 0x01       → log start offset u64 (raised by retention)
 *   0x04 groupLen u16 | group | topicId u32 | partition u32 → committed offset u64
 *
 * Topics get a small numeric id so record keys stay 17 bytes whatever the topic name.
 */

export const FORMAT_KEY = Buffer.from('\u0000format', 'latin1');
export const FORMAT_VERSION = '2';

export const TOPIC_PREFIX = 0x01;
export const RECORD_PREFIX = 0x02;
export const PARTITION_STATE_PREFIX = 0x03;
export const COMMITTED_PREFIX = 0x04;

export const END_OFFSET = 0x00;
export const LOG_START_OFFSET = 0x01;

const TWO_32 = 0x1_0000_0000;

export function writeOffset(buf: Buffer, offset: number, at: number): void {
  buf.writeUInt32BE(Math.floor(offset / TWO_32), at);
  buf.writeUInt32BE(offset >>> 0, at + 4);
}

export function readOffset(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
}

export function encodeOffsetValue(offset: number): Buffer {
  const buf = Buffer.allocUnsafe(8);
  writeOffset(buf, offset, 0);
  return buf;
}

export function topicKey(topic: string): Buffer {
  const name = Buffer.from(topic, 'utf8');
  const key = Buffer.allocUnsafe(1 + name.length);
  key[0] = TOPIC_PREFIX;
  name.copy(key, 1);
  return key;
}

export const TOPIC_RANGE = { gte: Buffer.from([TOPIC_PREFIX]), lt: Buffer.from([TOPIC_PREFIX + 1]) };

export const RECORD_KEY_LENGTH = 17;

export function recordKey(topicId: number, partition: number, offset: number): Buffer {
  const key = Buffer.allocUnsafe(RECORD_KEY_LENGTH);
  writeRecordKey(key, 0, topicId, partition, offset);
  return key;
}

export function writeRecordKey(buf: Buffer, at: number, topicId: number, partition: number, offset: number): void {
  buf[at] = RECORD_PREFIX;
  buf.writeUInt32BE(topicId, at + 1);
  buf.writeUInt32BE(partition, at + 5);
  writeOffset(buf, offset, at + 9);
}

export function recordKeyOffset(key: Buffer): number {
  return readOffset(key, 9);
}

export function partitionStateKey(topicId: number, partition: number, kind: number): Buffer {
  const key = Buffer.allocUnsafe(10);
  key[0] = PARTITION_STATE_PREFIX;
  key.writeUInt32BE(topicId, 1);
  key.writeUInt32BE(partition, 5);
  key[9] = kind;
  return key;
}

export function committedOffsetKey(groupId: string, topicId: number, partition: number): Buffer {
  const group = Buffer.from(groupId, 'utf8');
  if (group.length > 0xffff) throw new RangeError('groupId longer than 65535 bytes');
  const key = Buffer.allocUnsafe(1 + 2 + group.length + 8);
  key[0] = COMMITTED_PREFIX;
  key.writeUInt16BE(group.length, 1);
  group.copy(key, 3);
  key.writeUInt32BE(topicId, 3 + group.length);
  key.writeUInt32BE(partition, 7 + group.length);
  return key;
}

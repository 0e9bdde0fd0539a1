/**
 * Byte layouts of a window store (Kafka Streams' WindowKeySchema, minus the sequence number).
 *
 * Changelog key, and the data key after its keyspace byte:
 *     [u32 BE key length][key bytes][8-byte window start]
 * All windows of one key are contiguous and ordered by start, so fetch(key, t) is a point read
 * and fetchRange(key, from, to) one bounded scan. The length prefix keeps key "a" from
 * interleaving with key "ab" (without it "a"+time could sort between "ab" entries).
 *
 * Time index key, after its keyspace byte:
 *     [8-byte window start][key bytes]
 * with an empty value: a time-ordered secondary index. fetchAll(from, to) scans it, and so does
 * retention, which deletes everything below the cutoff from a bounded range instead of
 * scanning every key. (Segmenting by time, as Kafka Streams does, would let retention drop
 * whole segments; with one RocksDB per store and deletes batched with the checkpoint, the index
 * is simpler and keeps the atomic flush.)
 *
 * Window starts are signed 64-bit big-endian with the sign bit flipped, so byte order is
 * numeric order for negative starts too.
 */
export const TIME_BYTES = 8;

export function encodeTime(time: number): Buffer {
  const out = Buffer.allocUnsafe(TIME_BYTES);
  writeTime(out, 0, time);
  return out;
}

const TWO_32 = 2 ** 32;

// Two 32-bit halves instead of BigInt: this runs on every window read and write.
function writeTime(out: Buffer, offset: number, time: number): void {
  if (!Number.isSafeInteger(time)) throw new RangeError(`window start ${time} is not a safe integer`);
  const high = Math.floor(time / TWO_32);
  out.writeInt32BE(high, offset);
  out.writeUInt32BE(time - high * TWO_32, offset + 4);
  out[offset] ^= 0x80;
}

function readTime(bytes: Buffer, offset: number): number {
  const high = ((bytes[offset] ^ 0x80) << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3];
  return high * TWO_32 + bytes.readUInt32BE(offset + 4);
}

export function windowKey(key: Buffer, windowStart: number): Buffer {
  const out = Buffer.allocUnsafe(4 + key.length + TIME_BYTES);
  out.writeUInt32BE(key.length, 0);
  key.copy(out, 4);
  writeTime(out, 4 + key.length, windowStart);
  return out;
}

/** The bytes every window key of this key starts with. */
export function windowKeyPrefix(key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + key.length);
  out.writeUInt32BE(key.length, 0);
  key.copy(out, 4);
  return out;
}

export interface DecodedWindowKey {
  key: Buffer;
  windowStart: number;
}

export function decodeWindowKey(bytes: Buffer): DecodedWindowKey {
  if (bytes.length < 4 + TIME_BYTES) throw new Error(`window key of ${bytes.length} bytes is too short`);
  const length = bytes.readUInt32BE(0);
  if (bytes.length !== 4 + length + TIME_BYTES) throw new Error('window key length prefix does not match its size');
  return { key: bytes.subarray(4, 4 + length), windowStart: readTime(bytes, 4 + length) };
}

export function windowStartOf(windowKeyBytes: Buffer): number {
  return readTime(windowKeyBytes, windowKeyBytes.length - TIME_BYTES);
}

export function timeIndexKey(key: Buffer, windowStart: number): Buffer {
  const out = Buffer.allocUnsafe(TIME_BYTES + key.length);
  writeTime(out, 0, windowStart);
  key.copy(out, TIME_BYTES);
  return out;
}

export function decodeTimeIndexKey(bytes: Buffer): DecodedWindowKey {
  return { windowStart: readTime(bytes, 0), key: bytes.subarray(TIME_BYTES) };
}

import type { LogRecord } from '../Log.js';
import { decodeRecord, encodedSize, encodeRecordInto, type StoredRecord } from './RecordCodec.js';

/**
 * Records are stored in batches, like Kafka's record batches: one RocksDB entry per partition per
 * group commit (split at BATCH_MAX_RECORDS / BATCH_MAX_BYTES), keyed by its base offset.
 * One entry instead of one per record is what makes appends and reads fast: RocksDB's per-entry
 * cost (memtable insert, and a JS Buffer per key and value on read) is paid per batch.
 *
 *   version u8 (1) | count u32 | (offsetDelta u32 | bodyLength u32 | body)*
 *
 * body is one record (RecordCodec.ts). The offset delta is stored per record, not implied by its
 * position, so compaction can drop records from a batch and the survivors keep their offsets.
 */

export const BATCH_MAX_RECORDS = 1000;
export const BATCH_MAX_BYTES = 1 << 20;
const VERSION = 1;
export const BATCH_HEADER = 5;
export const RECORD_OVERHEAD = 8;

export function batchRecordSize(record: StoredRecord): number {
  return RECORD_OVERHEAD + encodedSize(record);
}

/** Writes a batch of records with consecutive offsets from baseOffset; returns the end position. */
export function encodeBatchInto(buf: Buffer, at: number, records: StoredRecord[], from: number, to: number): number {
  buf[at] = VERSION;
  buf.writeUInt32BE(to - from, at + 1);
  let pos = at + BATCH_HEADER;
  for (let i = from; i < to; i++) {
    buf.writeUInt32BE(i - from, pos);
    const end = encodeRecordInto(buf, pos + RECORD_OVERHEAD, records[i]);
    buf.writeUInt32BE(end - pos - RECORD_OVERHEAD, pos + 4);
    pos = end;
  }
  return pos;
}

/** One record of a stored batch, not decoded: its offset and the byte range of its body. */
export interface BatchEntry {
  offset: number;
  start: number;
  end: number;
}

/** Calls visit for each record of the batch in offset order; stops early when visit returns false. */
export function forEachInBatch(buf: Buffer, baseOffset: number, visit: (offset: number, start: number, end: number) => boolean | void): void {
  if (buf[0] !== VERSION) throw new Error(`unknown record batch version ${buf[0]}`);
  const count = buf.readUInt32BE(1);
  let pos = BATCH_HEADER;
  for (let i = 0; i < count; i++) {
    const offset = baseOffset + buf.readUInt32BE(pos);
    const length = buf.readUInt32BE(pos + 4);
    const start = pos + RECORD_OVERHEAD;
    if (visit(offset, start, start + length) === false) return;
    pos = start + length;
  }
}

/** Offset of the last record of a batch (recovery of the end offset). */
export function lastOffsetInBatch(buf: Buffer, baseOffset: number): number {
  let last = baseOffset - 1;
  forEachInBatch(buf, baseOffset, (offset) => {
    last = offset;
  });
  return last;
}

/**
 * Decodes records with offset >= fromOffset and < endOffset into out, up to out.length === max.
 * Returns false once max is reached (the caller stops reading further batches).
 */
export function decodeBatch(
  topic: string,
  partition: number,
  baseOffset: number,
  buf: Buffer,
  fromOffset: number,
  endOffset: number,
  max: number,
  out: LogRecord[],
): boolean {
  let more = true;
  forEachInBatch(buf, baseOffset, (offset, start, end) => {
    if (offset < fromOffset) return true;
    if (offset >= endOffset || out.length >= max) {
      more = out.length < max;
      return false;
    }
    out.push(decodeRecord(topic, partition, offset, buf.subarray(start, end)));
    return true;
  });
  return more && out.length < max;
}

/**
 * A batch holding only the kept entries of `buf` (same base offset, same offsets), or null when
 * nothing is kept. Used by compaction and retention.
 */
export function rewriteBatch(buf: Buffer, baseOffset: number, keep: BatchEntry[]): Buffer | null {
  if (keep.length === 0) return null;
  let size = BATCH_HEADER;
  for (const e of keep) size += RECORD_OVERHEAD + (e.end - e.start);
  const out = Buffer.allocUnsafe(size);
  out[0] = VERSION;
  out.writeUInt32BE(keep.length, 1);
  let pos = BATCH_HEADER;
  for (const e of keep) {
    out.writeUInt32BE(e.offset - baseOffset, pos);
    out.writeUInt32BE(e.end - e.start, pos + 4);
    buf.copy(out, pos + RECORD_OVERHEAD, e.start, e.end);
    pos += RECORD_OVERHEAD + (e.end - e.start);
  }
  return out;
}

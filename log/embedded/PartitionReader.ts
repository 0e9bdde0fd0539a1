import type { LogRecord } from '../Log.js';
import { recordKey, recordKeyOffset } from './KeyLayout.js';
import type { LogDatabase } from './LogDatabase.js';
import { decodeBatch, lastOffsetInBatch } from './RecordBatch.js';
import type { PartitionState } from './TopicCatalog.js';

/**
 * Up to maxRecords records of a partition with offset >= fromOffset (and >= the log start), in
 * offset order, below the end offset as it is now. Gaps left by compaction are skipped.
 * Synchronous (see LogDatabase), so the end offset and the records read agree.
 */
export function readPartition(db: LogDatabase, ps: PartitionState, fromOffset: number, maxRecords: number): LogRecord[] {
  const from = Math.max(fromOffset, ps.logStart, 0);
  const end = ps.end;
  const out: LogRecord[] = [];
  if (from >= end || maxRecords <= 0) return out;

  let scanFrom: Buffer;
  const cached = ps.lastBatch;
  if (cached && cached.base <= from && from <= cached.last + 1) {
    // Sequential reading: continue in (or right after) the batch read last, no seek needed;
    // the next batch's base offset is above every offset of this one.
    if (from <= cached.last && !decodeBatch(ps.topic, ps.partition, cached.base, cached.value, from, end, maxRecords, out)) {
      return out;
    }
    scanFrom = recordKey(ps.topicId, ps.partition, cached.base + 1);
  } else {
    // The batch holding `from` is the last one whose base offset is <= from.
    const [holding] = db.scan({
      gte: recordKey(ps.topicId, ps.partition, 0),
      lt: recordKey(ps.topicId, ps.partition, from + 1),
      reverse: true,
      limit: 1,
    });
    scanFrom = holding ? holding[0] : recordKey(ps.topicId, ps.partition, from);
  }

  const cursor = db.cursor({ gte: scanFrom, lt: recordKey(ps.topicId, ps.partition, end) });
  try {
    for (;;) {
      const { rows, finished } = cursor.next(4);
      for (const [key, value] of rows) {
        const base = recordKeyOffset(key);
        ps.lastBatch = { base, last: lastOffsetInBatch(value, base), value };
        if (!decodeBatch(ps.topic, ps.partition, base, value, from, end, maxRecords, out)) return out;
      }
      if (finished) return out;
    }
  } finally {
    cursor.close();
  }
}

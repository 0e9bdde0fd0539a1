import { createHash } from 'node:crypto';
import type { Log, LogRecord, ProducerRecord } from '../log/Log.js';

/**
 * After a crash the spool is replayed, and a record whose produce landed just before the crash
 * (a write that timed out but was still in flight, or the drain batch sent but not yet
 * acknowledged) would land a second time. Before the first replayed batch is sent, the landing
 * topics' tails are searched for exact copies of the first spooled records, so those are
 * acknowledged instead of sent.
 *
 * A copy is the same topic, key, value and timestamp: the value is the landing envelope with its
 * event_id and received_at, and the timestamp is received_at, so two different events never
 * match. The search is bounded: each partition is read backwards from its end, in chunks,
 * until a whole chunk is older than the oldest spooled record by more than `slackMs` (a landed
 * copy carries the spooled record's own timestamp, and was written about when it was spooled),
 * or `maxRecordsPerPartition` have been read.
 */
export interface LandedCopiesOptions {
  slackMs?: number;
  maxRecordsPerPartition?: number;
  chunkRecords?: number;
}

export function recordFingerprint(topic: string, key: Buffer | null, value: Buffer | null, timestamp: number | undefined): string {
  const hash = createHash('sha1');
  hash.update(topic).update('\0');
  hash.update(key === null ? 'k-' : 'k+').update(key ?? Buffer.alloc(0));
  hash.update(value === null ? 'v-' : 'v+').update(value ?? Buffer.alloc(0));
  hash.update(String(timestamp ?? -1));
  return hash.digest('base64');
}

/** Fingerprints (recordFingerprint) of those of `records` already in the log. */
export async function findLandedCopies(log: Log, records: ProducerRecord[], options: LandedCopiesOptions = {}): Promise<Set<string>> {
  const slackMs = options.slackMs ?? 5 * 60_000;
  const maxRecords = options.maxRecordsPerPartition ?? 200_000;
  const chunk = options.chunkRecords ?? 2_000;
  const wanted = new Map<string, Set<string>>();
  const oldest = new Map<string, number>();
  for (const record of records) {
    let set = wanted.get(record.topic);
    if (!set) wanted.set(record.topic, (set = new Set()));
    set.add(recordFingerprint(record.topic, record.key, record.value, record.timestamp));
    const ts = record.timestamp ?? 0;
    oldest.set(record.topic, Math.min(oldest.get(record.topic) ?? ts, ts));
  }
  const found = new Set<string>();
  const existing = new Set(await log.listTopics());
  for (const [topic, fingerprints] of wanted) {
    if (!existing.has(topic)) continue;
    const floor = oldest.get(topic)! - slackMs;
    const partitions = await log.partitionCount(topic);
    let foundHere = 0;
    for (let partition = 0; partition < partitions; partition++) {
      const tp = { topic, partition };
      const begin = await log.beginningOffset(tp);
      let hi = await log.endOffset(tp);
      let scanned = 0;
      while (hi > begin && scanned < maxRecords && foundHere < fingerprints.size) {
        const from = Math.max(begin, hi - chunk);
        const batch = await readRange(log, tp, from, hi);
        scanned += batch.length;
        let newest = -Infinity;
        for (const landed of batch) {
          newest = Math.max(newest, landed.timestamp);
          const fingerprint = recordFingerprint(topic, landed.key, landed.value, landed.timestamp);
          if (fingerprints.has(fingerprint) && !found.has(fingerprint)) {
            found.add(fingerprint);
            foundHere++;
          }
        }
        if (newest < floor) break;
        hi = from;
      }
    }
  }
  return found;
}

/** Records at offsets [from, to): read may return fewer than asked (fetch size), or skip gaps. */
async function readRange(log: Log, tp: { topic: string; partition: number }, from: number, to: number): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  let offset = from;
  while (offset < to) {
    const batch = await log.read(tp, offset, to - offset);
    if (batch.length === 0) break;
    for (const record of batch) if (record.offset < to) out.push(record);
    offset = batch[batch.length - 1]!.offset + 1;
  }
  return out;
}

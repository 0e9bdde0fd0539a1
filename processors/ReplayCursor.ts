import type { Log, ProducerRecord } from '../log/Log.js';
import { UnknownTopicError } from '../log/Log.js';

/**
 * How far DLQ replay has examined a DLQ, per partition: `next` is the first offset not yet
 * examined; `held` are offsets below it skipped only by a reason filter, still owed a replay.
 * Kept in the log itself (a one-partition compacted topic, one record per replay batch), so the
 * HTTP route and the CLI share it in both modes, and a replay writes it in the same transaction
 * as the records it replays.
 */
export interface ReplayCursor {
  partitions: Record<number, { next: number; held: number[] }>;
}

const CURSOR_KEY = Buffer.from('cursor');

export function replayCursorTopic(dlqTopic: string): string {
  return `${dlqTopic}.replay-cursor`;
}

export function replayCursorRecord(dlqTopic: string, cursor: ReplayCursor): ProducerRecord {
  return { topic: replayCursorTopic(dlqTopic), key: CURSOR_KEY, value: Buffer.from(JSON.stringify(cursor)) };
}

/** The last cursor written for the DLQ; an empty one when there is none (or it is unreadable). */
export async function readReplayCursor(log: Log, dlqTopic: string): Promise<ReplayCursor> {
  const tp = { topic: replayCursorTopic(dlqTopic), partition: 0 };
  let beginning: number;
  let end: number;
  try {
    beginning = await log.beginningOffset(tp);
    end = await log.endOffset(tp);
  } catch (error) {
    if (error instanceof UnknownTopicError) return { partitions: {} };
    throw error;
  }
  if (end <= beginning) return { partitions: {} };
  // Read backwards in growing windows: the last record is the newest cursor (Kafka puts
  // transaction markers after it, so end - 1 is not always a record).
  for (let window = 16; ; window *= 4) {
    const from = Math.max(beginning, end - window);
    const records = await log.read(tp, from, end - from);
    for (let i = records.length - 1; i >= 0; i--) {
      const value = records[i]!.value;
      if (value === null) continue;
      const parsed = parseCursor(value.toString('utf8'));
      if (parsed) return parsed;
    }
    if (from === beginning) return { partitions: {} };
  }
}

function parseCursor(text: string): ReplayCursor | undefined {
  try {
    const parsed = JSON.parse(text) as ReplayCursor;
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.partitions !== 'object' || parsed.partitions === null) return undefined;
    for (const entry of Object.values(parsed.partitions)) {
      if (!Number.isInteger(entry?.next) || !Array.isArray(entry.held)) return undefined;
    }
    return parsed;
  } catch {
    return undefined;
  }
}

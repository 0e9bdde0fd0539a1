import { Counter, type Registry } from 'prom-client';
import { UnknownTopicError, type Log, type LogRecord, type ProducerRecord, type TopicPartition } from '../log/Log.js';
import { DLQ_REASON, DLQ_TIMESTAMP, ORIGINAL_OFFSET, ORIGINAL_PARTITION, ORIGINAL_TOPIC } from '../topology/index.js';
import { readReplayCursor, replayCursorRecord, replayCursorTopic, type ReplayCursor } from './ReplayCursor.js';
import type { SafePattern } from './SafePattern.js';
import { DEFAULT_MAX_REPLAYS } from './SeedDefaults.js';

/** Where records past the retry cap are parked: `<dlq>.quarantine`, listed with `streamline dlq list --topic`. */
export function quarantineTopic(dlqTopic: string): string {
  return `${dlqTopic}.quarantine`;
}

/** The most reason-skipped offsets a cursor carries; a replay stops there rather than grow it. */
export const MAX_HELD_OFFSETS = 1000;

const DLQ_HEADERS = new Set([DLQ_REASON, DLQ_TIMESTAMP, ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET, 'retry_count']);

export interface ReplayOptions {
  dlqTopic: string;
  /** Replays only records whose dlq_reason matches; the others stay owed (held) for a later replay. */
  reason?: SafePattern;
  /** Stop after this many replayed records. */
  limit?: number;
  /**
   * Replay events the ingress refused too (no original_offset: they never reached the landing
   * topic, and replaying an invalid event only dead-letters it again). Default false.
   */
  includeRejected?: boolean;
  /** A record replayed this many times (retry_count) is quarantined instead. Default 3. */
  maxReplays?: number;
  /** Ignore the cursor and examine the DLQ from its beginning (records may be replayed again). */
  fromBeginning?: boolean;
  /** Called after each batch with the records examined so far and the total to examine. */
  onProgress?: (examined: number, total: number) => void;
  /** streamline_dlq_replay_records_total by outcome (dlqReplayCounter). */
  counter?: Counter<'outcome'>;
}

/**
 * streamline_dlq_replay_records_total{outcome}: replayed, quarantined (past the retry cap),
 * skipped_rejected, skipped_no_origin, held (skipped by reason). One counter per registry.
 */
export function dlqReplayCounter(registry: Registry): Counter<'outcome'> {
  const name = 'streamline_dlq_replay_records_total';
  return (
    (registry.getSingleMetric(name) as Counter<'outcome'> | undefined) ??
    new Counter({ name, help: 'Dead letters examined by DLQ replay, by outcome (quarantined: replayed DLQ_MAX_REPLAYS times already)', labelNames: ['outcome'], registers: [registry] })
  );
}

export interface ReplayResult {
  replayed: number;
  quarantined: number;
  skipped: { rejected: number; noOrigin: number; reason: number };
  /** Records skipped by the reason filter, owed to a later replay. */
  held: number;
  /** Next DLQ offset to examine per partition (the persisted cursor). */
  nextOffsets: Map<number, number>;
  /** True when the limit or the held cap stopped the replay before the end of the DLQ. */
  more: boolean;
}

/** The record as it was before it was dead-lettered: DLQ headers dropped, retry_count + 1. */
export function replayRecord(record: LogRecord): ProducerRecord {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(record.headers)) if (!DLQ_HEADERS.has(name)) headers[name] = value;
  headers.retry_count = String(replayCount(record) + 1);
  return { topic: record.headers[ORIGINAL_TOPIC]!, key: record.key, value: record.value, headers, timestamp: record.timestamp };
}

function replayCount(record: LogRecord): number {
  const n = Number(record.headers.retry_count ?? '0');
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** One replay at a time per DLQ in this process: two concurrent calls would both read the same cursor. */
const running = new Map<string, Promise<unknown>>();

/**
 * Re-produces dead letters to their original topic (DLQ headers dropped, retry_count + 1) so they
 * go through the pipeline again after a fix. Idempotent: a cursor per DLQ partition, kept in the
 * compacted topic `<dlq>.replay-cursor`, says how far the DLQ was examined; each batch's replayed
 * records, quarantined copies and the new cursor are written in one transaction, so a crash
 * replays nothing twice and a second call finds nothing new. A record that fails again lands
 * behind the cursor with its retry_count, and is quarantined (copied to `<dlq>.quarantine`, never
 * replayed again) once it has been replayed maxReplays times. Records the ingress refused are
 * skipped for good unless includeRejected; records skipped by `reason` are held for a later call.
 *
 * @example
 *   const result = await replayDeadLetters(log, { dlqTopic: 'events-dlq', reason: compileSafePattern('bot') });
 */
export async function replayDeadLetters(log: Log, options: ReplayOptions): Promise<ReplayResult> {
  const key = options.dlqTopic;
  const previous = running.get(key) ?? Promise.resolve();
  const current = previous.catch(() => undefined).then(() => replayUnlocked(log, options));
  running.set(key, current);
  try {
    return await current;
  } finally {
    if (running.get(key) === current) running.delete(key);
  }
}

async function replayUnlocked(log: Log, options: ReplayOptions): Promise<ReplayResult> {
  const { dlqTopic } = options;
  const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
  const maxReplays = options.maxReplays ?? DEFAULT_MAX_REPLAYS;
  const result: ReplayResult = { replayed: 0, quarantined: 0, skipped: { rejected: 0, noOrigin: 0, reason: 0 }, held: 0, nextOffsets: new Map(), more: false };
  let partitions: number;
  try {
    partitions = await log.partitionCount(dlqTopic);
  } catch (error) {
    // No DLQ topic yet: nothing was ever dead-lettered.
    if (error instanceof UnknownTopicError) return result;
    throw error;
  }
  await log.ensureTopic(replayCursorTopic(dlqTopic), { partitions: 1, cleanupPolicy: 'compact' });
  const cursor: ReplayCursor = options.fromBeginning ? { partitions: {} } : await readReplayCursor(log, dlqTopic);
  const spans: Array<{ tp: TopicPartition; start: number; end: number; held: number[] }> = [];
  for (let partition = 0; partition < partitions; partition++) {
    const tp = { topic: dlqTopic, partition };
    const saved = cursor.partitions[partition];
    const beginning = await log.beginningOffset(tp);
    // The end read now: a replayed record that fails again lands behind it, for the next call.
    spans.push({ tp, start: Math.max(saved?.next ?? beginning, beginning), end: await log.endOffset(tp), held: (saved?.held ?? []).filter((o) => o >= beginning) });
  }
  const total = spans.reduce((sum, s) => sum + s.held.length + Math.max(0, s.end - s.start), 0);
  let examined = 0;
  let quarantineReady = false;

  const producer = await log.createTransactionalProducer(`streamline-dlq-replay-${dlqTopic}`);
  try {
    for (const span of spans) {
      const owed = span.held;
      const nextHeld: number[] = [];
      let position = span.start;
      // Held offsets first (oldest owed), then the DLQ from the cursor on.
      const pendingHeld = [...owed];
      while ((pendingHeld.length > 0 || position < span.end) && !result.more) {
        const batch: LogRecord[] = [];
        if (pendingHeld.length > 0) {
          for (const offset of pendingHeld.splice(0, 100)) {
            const [record] = await log.read(span.tp, offset, 1);
            if (record && record.offset === offset) batch.push(record);
          }
        } else {
          batch.push(...(await log.read(span.tp, position, 500)).filter((r) => r.offset < span.end));
          if (batch.length === 0) break;
        }
        const out: ProducerRecord[] = [];
        const parked: ProducerRecord[] = [];
        for (const record of batch) {
          if (result.replayed + out.length >= limit || nextHeld.length >= MAX_HELD_OFFSETS) {
            result.more = true;
            // Not examined: stays owed (held) or ahead of the cursor.
            if (record.offset < span.start || owed.includes(record.offset)) nextHeld.push(record.offset);
            continue;
          }
          examined++;
          if (record.offset >= position) position = record.offset + 1;
          const headers = record.headers;
          if (!headers[ORIGINAL_TOPIC]) result.skipped.noOrigin++;
          else if (!headers[ORIGINAL_OFFSET] && !options.includeRejected) result.skipped.rejected++;
          else if (options.reason && !options.reason.test(headers[DLQ_REASON] ?? '')) {
            result.skipped.reason++;
            nextHeld.push(record.offset);
          } else if (replayCount(record) >= maxReplays) parked.push({ topic: quarantineTopic(dlqTopic), key: record.key, value: record.value, headers: { ...headers, quarantined_at: new Date().toISOString() }, timestamp: record.timestamp });
          else out.push(replayRecord(record));
        }
        // Offsets the limit cut off inside a batch of held ones stay held.
        if (result.more) nextHeld.push(...pendingHeld.splice(0));
        if (parked.length > 0 && !quarantineReady) {
          await log.ensureTopic(quarantineTopic(dlqTopic), { partitions: 1 });
          quarantineReady = true;
        }
        cursor.partitions[span.tp.partition] = { next: position, held: [...new Set([...pendingHeld, ...nextHeld])].sort((a, b) => a - b) };
        const transaction = await producer.begin();
        try {
          transaction.produce([...out, ...parked, replayCursorRecord(dlqTopic, cursor)]);
          await transaction.commit();
        } catch (error) {
          await transaction.abort().catch(() => undefined);
          throw error;
        }
        result.replayed += out.length;
        result.quarantined += parked.length;
        options.onProgress?.(examined, total);
      }
      result.held += cursor.partitions[span.tp.partition]?.held.length ?? span.held.length;
      result.nextOffsets.set(span.tp.partition, position);
    }
  } finally {
    await producer.close();
    const counter = options.counter;
    if (counter) {
      counter.inc({ outcome: 'replayed' }, result.replayed);
      counter.inc({ outcome: 'quarantined' }, result.quarantined);
      counter.inc({ outcome: 'skipped_rejected' }, result.skipped.rejected);
      counter.inc({ outcome: 'skipped_no_origin' }, result.skipped.noOrigin);
      counter.inc({ outcome: 'held' }, result.skipped.reason);
    }
  }
  return result;
}

import type { Log, ProducerRecord } from '../log/Log.js';
import { tooDeepAt } from './JsonDepth.js';
import { NamedError } from '../errors/NamedError.js';

/**
 * Reference data the enrichment joins read: users on a compacted topic co-partitioned with the
 * landing topic (key = user id, a KTable), items on a compacted topic every instance reads in
 * full (key = item id, a GlobalKTable). Loading reference data is producing to these topics; a
 * null value deletes.
 */
export interface UserProfile {
  user_id: string;
  /** free | premium */
  type?: string;
  country?: string;
  jurisdiction?: string;
  /** IANA timezone, e.g. Europe/Berlin. */
  timezone?: string;
  streak_days?: number;
  total_sessions?: number;
  total_attempts?: number;
  /** 0..1: the user's accuracy so far; the expected performance of sessions. */
  average_accuracy?: number;
  /** 0..1 on the item difficulty scale. */
  skill_level?: number;
  device_preference?: string;
  /** Epoch ms or ISO text. */
  created_at?: number | string;
}

export interface ItemProfile {
  item_id: string;
  /** 0..1 */
  difficulty?: number;
  topics?: string[];
  /** 0..1: share of attempts answered correctly; the expected performance of an attempt. */
  average_accuracy?: number;
  average_response_time_ms?: number;
  popularity?: number;
  cognitive_level?: string;
}

/** Profiles are flat records; a little nesting (topics lists, small objects) is plenty. */
export const MAX_ROW_DEPTH = 16;

export type ReferenceKind = 'users' | 'items';

export interface ReferenceTopics {
  users: string;
  items: string;
}

export const DEFAULT_REFERENCE_TOPICS: ReferenceTopics = { users: 'ref.users', items: 'ref.items' };

export class ReferenceDataError extends NamedError {}

/** Parses NDJSON (one object per line, blank lines ignored), naming the bad line. */
export function parseNdjson(text: string): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (error) {
      throw new ReferenceDataError(`line ${i + 1} is not JSON: ${(error as Error).message}`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new ReferenceDataError(`line ${i + 1} is not a JSON object`);
    rows.push(row as Record<string, unknown>);
  }
  return rows;
}

/**
 * Produces reference rows to the users or items topic (each row needs user_id / item_id; a row
 * {user_id, deleted: true} deletes). All rows are checked before any is produced. Resolves with
 * how many were written.
 *
 * @example
 *   await loadReferenceData(log, 'users', [{ user_id: 'u1', type: 'premium', timezone: 'Europe/Berlin' }]);
 *   await loadReferenceData(log, 'items', parseNdjson(fs.readFileSync('items.ndjson', 'utf8')));
 */
export async function loadReferenceData(
  log: Log,
  kind: ReferenceKind,
  rows: readonly unknown[],
  options: { topics?: ReferenceTopics; partitions?: number; timestamp?: number } = {},
): Promise<{ written: number; topic: string }> {
  const topics = options.topics ?? DEFAULT_REFERENCE_TOPICS;
  const topic = topics[kind];
  const idField = kind === 'users' ? 'user_id' : 'item_id';
  const records: ProducerRecord[] = rows.map((input, index) => {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new ReferenceDataError(`row ${index + 1} is not a JSON object`);
    // JSON.stringify recurses: a 20k-deep row would overflow the stack.
    const deep = tooDeepAt(input, MAX_ROW_DEPTH);
    if (deep !== undefined) throw new ReferenceDataError(`row ${index + 1} nests deeper than ${MAX_ROW_DEPTH} levels (at ${deep})`);
    const row = input as Record<string, unknown>;
    const id = row[idField];
    if (typeof id !== 'string' || id.length === 0) throw new ReferenceDataError(`row ${index + 1} has no ${idField}`);
    const tombstone = row.deleted === true;
    return { topic, key: Buffer.from(id), value: tombstone ? null : Buffer.from(JSON.stringify(row)), timestamp: options.timestamp };
  });
  await ensureReferenceTopic(log, topic, options.partitions ?? 1);
  for (let i = 0; i < records.length; i += 5000) await log.produce(records.slice(i, i + 5000));
  return { written: records.length, topic };
}

/**
 * Reference topics are compacted. The users topic must have the landing topic's partition count
 * (the join is co-partitioned): create it before the pipeline starts, see ensurePipelineTopics.
 */
export async function ensureReferenceTopic(log: Log, topic: string, partitions: number): Promise<void> {
  await log.ensureTopic(topic, { partitions, cleanupPolicy: 'compact' });
}

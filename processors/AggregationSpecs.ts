import type { LearningEvent } from './LandingEvent.js';

/**
 * The windowed aggregations (seed 002's five default aggregators and seed 004's per
 * event_name × channel × hour totals). Each one is data: which events, the group key, a small
 * projection of the event (what crosses a repartition topic), the window, and a pure
 * initializer/adder over a JSON aggregate, plus the row the aggregate topic and the query API show.
 */
export interface AggregatorSpec<P = unknown, A = unknown> {
  name: string;
  description: string;
  /** Shown before the group key in rows and accepted by queries: "user:" + user id. */
  keyPrefix: string;
  sizeMs: number;
  /** Hopping windows when below sizeMs. */
  advanceMs?: number;
  /** The group key; undefined groups by the stream key (the user id) without a repartition. */
  keyOf?: (event: LearningEvent) => string;
  select: (event: LearningEvent) => boolean;
  project: (event: LearningEvent) => P;
  /** Counted exactly per window and key (tumbling windows only): e.g. unique users. */
  distinctMember?: (projection: P) => string | undefined;
  /**
   * distinctMember is the event's user id, the key the stream is partitioned by: every event of
   * a member is in one input partition, so members can be counted before the repartition
   * (pre-aggregation, processors/PreAggregator.ts). Without it a distinct aggregator is not
   * pre-aggregated.
   */
  distinctMemberIsStreamKey?: boolean;
  init: () => A;
  add: (aggregate: A, projection: P, firstOfMember: boolean) => A;
  /**
   * Combines a partial aggregate (init() plus add() of some events, firstOfMember false) into an
   * aggregate: merge(a, partial of events e1..en, k) equals add(...add(a, e1, ·)..., en, ·) where k
   * of the events were first of their member. Pure, like add. With keyOf, the partials are built
   * before the repartition (one record per key and window advance per commit instead of one per
   * event; processors/PreAggregator.ts); an aggregator without merge is aggregated per event.
   */
  merge?: (aggregate: A, partial: A, firstMembers: number) => A;
  /** Fields of the output row besides aggregator, key, window_start, window_end. Always has count. */
  row: (aggregate: A) => Record<string, unknown> & { count: number };
  /** How long windows stay queryable by default. */
  retentionMs: number;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

const ratio = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 10_000) / 10_000 : 0);
const mean = (sum: number, n: number) => (n > 0 ? Math.round((sum / n) * 100) / 100 : 0);
const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

interface AttemptProjection {
  correct: boolean;
  /** null when the client sent no time_taken_ms. */
  ms: number | null;
}

interface ResponseStats {
  count: number;
  correct: number;
  timed: number;
  sum: number;
  min: number | null;
  max: number | null;
}

const attemptProjection = (event: LearningEvent): AttemptProjection => ({ correct: event.payload.correct === true, ms: num(event.payload.time_taken_ms) ?? null });

const initResponseStats = (): ResponseStats => ({ count: 0, correct: 0, timed: 0, sum: 0, min: null, max: null });

// The adders run per event (twice per attempt): each builds its new aggregate as one literal,
// fields in init's order (the JSON stored and emitted stays the same), not as a spread of the old
// one and edits (~30x slower per call in V8).
function addAttempt(agg: ResponseStats, p: AttemptProjection): ResponseStats {
  const ms = p.ms;
  const count = agg.count + 1;
  const correct = agg.correct + (p.correct ? 1 : 0);
  if (ms === null) return { count, correct, timed: agg.timed, sum: agg.sum, min: agg.min, max: agg.max };
  return { count, correct, timed: agg.timed + 1, sum: agg.sum + ms, min: agg.min === null ? ms : Math.min(agg.min, ms), max: agg.max === null ? ms : Math.max(agg.max, ms) };
}

const minOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

function mergeResponseStats(agg: ResponseStats, p: ResponseStats): ResponseStats {
  return { count: agg.count + p.count, correct: agg.correct + p.correct, timed: agg.timed + p.timed, sum: agg.sum + p.sum, min: minOf(agg.min, p.min), max: maxOf(agg.max, p.max) };
}

const responseRow = (agg: ResponseStats) => ({
  count: agg.count,
  correct: agg.correct,
  accuracy: ratio(agg.correct, agg.count),
  mean_response_time_ms: mean(agg.sum, agg.timed),
  sum: agg.sum,
  min: agg.min,
  max: agg.max,
});

const isAttempt = (event: LearningEvent) => event.kind === 'attempt';

export const userHourlyAttempts: AggregatorSpec<AttemptProjection, ResponseStats> = {
  name: 'user_hourly_attempts',
  description: 'Per user and hour: attempts, correct, accuracy, mean response time (sum/min/max: response time ms)',
  keyPrefix: 'user:',
  sizeMs: HOUR,
  select: isAttempt,
  project: attemptProjection,
  init: initResponseStats,
  add: addAttempt,
  merge: mergeResponseStats,
  row: responseRow,
  retentionMs: 7 * DAY,
};

export const itemHourlyPerformance: AggregatorSpec<AttemptProjection, ResponseStats> = {
  name: 'item_hourly_performance',
  description: 'Per item and hour: attempts, correct, accuracy, mean response time (difficulty calibration)',
  keyPrefix: 'item:',
  sizeMs: HOUR,
  keyOf: (event) => event.payload.item_id as string,
  select: isAttempt,
  project: attemptProjection,
  init: initResponseStats,
  add: addAttempt,
  merge: mergeResponseStats,
  row: responseRow,
  retentionMs: 7 * DAY,
};

interface SessionProjection {
  items: number;
  correct: number;
  /** null when neither total_time_ms nor start/end times are given. */
  duration: number | null;
}

interface SessionStats {
  count: number;
  items: number;
  correct: number;
  timed: number;
  duration: number;
}

function sessionDuration(event: LearningEvent): number | null {
  const total = num(event.payload.total_time_ms);
  if (total !== undefined) return total;
  const start = Date.parse(String(event.payload.start_time));
  const end = Date.parse(String(event.payload.end_time));
  return Number.isFinite(start) && Number.isFinite(end) && end >= start ? end - start : null;
}

export const userDailySessions: AggregatorSpec<SessionProjection, SessionStats> = {
  name: 'user_daily_sessions',
  description: 'Per user and UTC day: sessions, items attempted, correct, total and mean session duration',
  keyPrefix: 'user:',
  sizeMs: DAY,
  select: (event) => event.kind === 'session',
  project: (event) => ({ items: num(event.payload.items_attempted) ?? 0, correct: num(event.payload.correct_count) ?? 0, duration: sessionDuration(event) }),
  init: () => ({ count: 0, items: 0, correct: 0, timed: 0, duration: 0 }),
  add: (agg, p) => ({
    count: agg.count + 1,
    items: agg.items + p.items,
    correct: agg.correct + p.correct,
    timed: agg.timed + (p.duration === null ? 0 : 1),
    duration: agg.duration + (p.duration ?? 0),
  }),
  merge: (agg, p) => ({ count: agg.count + p.count, items: agg.items + p.items, correct: agg.correct + p.correct, timed: agg.timed + p.timed, duration: agg.duration + p.duration }),
  row: (agg) => ({
    count: agg.count,
    items_attempted: agg.items,
    correct_count: agg.correct,
    accuracy: ratio(agg.correct, agg.items),
    total_duration_ms: agg.duration,
    mean_duration_ms: mean(agg.duration, agg.timed),
    sum: agg.duration,
  }),
  retentionMs: 35 * DAY,
};

interface Throughput {
  count: number;
  by_type: Record<string, number>;
}

export const systemThroughput: AggregatorSpec<string, Throughput> = {
  name: 'system_5m_throughput',
  description: 'All events in 5-minute windows advancing by 1 minute: count, per event type, events per second',
  keyPrefix: '',
  sizeMs: 5 * MINUTE,
  advanceMs: MINUTE,
  keyOf: () => 'system',
  select: () => true,
  project: (event) => event.event_type,
  init: () => ({ count: 0, by_type: {} }),
  add: (agg, type) => {
    const byType = { ...agg.by_type };
    byType[type] = (byType[type] ?? 0) + 1;
    return { count: agg.count + 1, by_type: byType };
  },
  merge: (agg, p) => {
    const byType = { ...agg.by_type };
    for (const [type, count] of Object.entries(p.by_type)) byType[type] = (byType[type] ?? 0) + count;
    return { count: agg.count + p.count, by_type: byType };
  },
  row: (agg) => ({ count: agg.count, events_per_second: Math.round((agg.count / 300) * 1000) / 1000, by_type: agg.by_type }),
  retentionMs: DAY,
};

interface JurisdictionProjection {
  user: string;
  kind: string;
  correct: boolean;
}

interface JurisdictionStats {
  count: number;
  attempts: number;
  correct: number;
  sessions: number;
  placements: number;
  users: number;
}

/** The user's jurisdiction, else country, else "unknown" (users not in ref.users). */
export function jurisdictionOf(event: LearningEvent): string {
  const user = event.enrichment?.user;
  return user?.jurisdiction ?? user?.country ?? 'unknown';
}

export const jurisdictionDaily: AggregatorSpec<JurisdictionProjection, JurisdictionStats> = {
  name: 'jurisdiction_daily_stats',
  description: 'Per jurisdiction (else country, else unknown) and UTC day: events, attempts, correct, accuracy, sessions, placements, unique users (exact)',
  keyPrefix: 'jurisdiction:',
  sizeMs: DAY,
  keyOf: jurisdictionOf,
  select: () => true,
  project: (event) => ({ user: event.user_id, kind: event.kind, correct: event.payload.correct === true }),
  distinctMember: (p) => p.user,
  distinctMemberIsStreamKey: true,
  init: () => ({ count: 0, attempts: 0, correct: 0, sessions: 0, placements: 0, users: 0 }),
  add: (agg, p, first) => ({
    count: agg.count + 1,
    attempts: agg.attempts + (p.kind === 'attempt' ? 1 : 0),
    correct: agg.correct + (p.kind === 'attempt' && p.correct ? 1 : 0),
    sessions: agg.sessions + (p.kind === 'session' ? 1 : 0),
    placements: agg.placements + (p.kind === 'placement' ? 1 : 0),
    users: agg.users + (first ? 1 : 0),
  }),
  merge: (agg, p, firstMembers) => ({
    count: agg.count + p.count,
    attempts: agg.attempts + p.attempts,
    correct: agg.correct + p.correct,
    sessions: agg.sessions + p.sessions,
    placements: agg.placements + p.placements,
    users: agg.users + firstMembers,
  }),
  // A literal in the aggregate's field order, not { ...agg, accuracy, unique_users }: adding
  // properties to a spread copy gives each row a hidden class of its own in V8 (~1 µs a row).
  row: (agg) => ({
    count: agg.count,
    attempts: agg.attempts,
    correct: agg.correct,
    sessions: agg.sessions,
    placements: agg.placements,
    users: agg.users,
    accuracy: ratio(agg.correct, agg.attempts),
    unique_users: agg.users,
  }),
  retentionMs: 35 * DAY,
};

interface ProductProjection {
  user: string;
  event_name: string;
  channel: string;
}

/** seed 004: GET /metrics groups by channel or hour; this is the (event_name, channel, hour) cube it sums. */
export const eventChannelHourly: AggregatorSpec<ProductProjection, { count: number; unique_users: number; event_name: string; channel: string }> = {
  name: 'event_channel_hourly',
  description: 'seed 004 product events per event_name × channel × hour: total events and unique users (exact)',
  keyPrefix: '',
  sizeMs: HOUR,
  keyOf: (event) => `${String(event.payload.event_name)}|${typeof event.payload.channel === 'string' ? event.payload.channel : ''}`,
  select: (event) => event.kind === 'product' && typeof event.payload.event_name === 'string',
  project: (event) => ({
    user: event.user_id,
    event_name: String(event.payload.event_name),
    channel: typeof event.payload.channel === 'string' ? event.payload.channel : '',
  }),
  distinctMember: (p) => p.user,
  distinctMemberIsStreamKey: true,
  init: () => ({ count: 0, unique_users: 0, event_name: '', channel: '' }),
  add: (agg, p, first) => ({ count: agg.count + 1, unique_users: agg.unique_users + (first ? 1 : 0), event_name: p.event_name, channel: p.channel }),
  // The names are the key's: every event of a partial carries the same ones (none when every add failed).
  merge: (agg, p, firstMembers) => ({
    count: agg.count + p.count,
    unique_users: agg.unique_users + firstMembers,
    event_name: p.count > 0 ? p.event_name : agg.event_name,
    channel: p.count > 0 ? p.channel : agg.channel,
  }),
  row: (agg) => ({ ...agg }),
  retentionMs: 35 * DAY,
};

export const DEFAULT_AGGREGATORS: AggregatorSpec[] = [
  userHourlyAttempts,
  userDailySessions,
  itemHourlyPerformance,
  systemThroughput,
  jurisdictionDaily,
  eventChannelHourly,
] as AggregatorSpec[];

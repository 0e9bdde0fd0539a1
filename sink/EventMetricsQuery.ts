import type { AnalyticsStore } from './AnalyticsStore.js';
import { NamedError } from '../errors/NamedError.js';

/**
 * Seed 004's GET /metrics?event_name=&from=&to=&group_by=channel|hour, answered from the
 * event_metrics_hourly materialized view (never from raw events).
 *
 * Time: from/to are Unix seconds; to defaults to now, from to 24 h before `to`. The view keeps
 * hours, so the range resolves to whole hours: an hour counts when it overlaps [from, to], i.e.
 * toStartOfHour(from) <= hour <= to.
 * Groups: group_by=channel → the channel name ("" for events without one), largest first;
 * group_by=hour → the hour's start as ISO 8601 UTC, "2024-02-24T13:00:00Z", in time order.
 * Without group_by, grouped_by is null and data is [].
 * unique_users is exact (uniqExact states merged across hours/channels).
 */
export type GroupBy = 'channel' | 'hour';

export interface EventMetricsRequest {
  event_name: string;
  from?: number;
  to?: number;
  group_by?: GroupBy;
}

export interface EventMetricsGroup {
  group: string;
  total_events: number;
  unique_users: number;
}

export interface EventMetricsResponse {
  event_name: string;
  from: number;
  to: number;
  grouped_by: GroupBy | null;
  total_events: number;
  unique_users: number;
  data: EventMetricsGroup[];
}

export class BadRequestError extends NamedError {
  readonly statusCode = 400;
}

const DAY_SECONDS = 86_400;
const MAX_SECONDS = 4_294_967_295; // DateTime's range ends in 2106

function parseSeconds(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value.trim())) throw new BadRequestError(`${name} must be a Unix timestamp in seconds (a non-negative integer), got "${value}"`);
  const seconds = Number(value.trim());
  if (seconds > MAX_SECONDS) throw new BadRequestError(`${name} must be at most ${MAX_SECONDS}, got ${value}`);
  return seconds;
}

/** Validates seed 004's query string; throws BadRequestError naming the parameter. */
export function parseEventMetricsQuery(query: Record<string, string | undefined>): EventMetricsRequest {
  const eventName = query.event_name?.trim();
  if (!eventName) throw new BadRequestError('event_name is required');
  const groupBy = query.group_by === undefined || query.group_by === '' ? undefined : query.group_by;
  if (groupBy !== undefined && groupBy !== 'channel' && groupBy !== 'hour') {
    throw new BadRequestError(`group_by must be "channel" or "hour", got "${groupBy}"`);
  }
  return { event_name: eventName, from: parseSeconds('from', query.from), to: parseSeconds('to', query.to), group_by: groupBy };
}

const WHERE = (db: string) => `FROM ${db}.event_metrics_hourly
WHERE event_name = {event_name:String}
  AND hour >= toStartOfHour(toDateTime({from:UInt32}, 'UTC'))
  AND hour <= toDateTime({to:UInt32}, 'UTC')`;

export function eventMetricsSql(db: string): { totals: string; byChannel: string; byHour: string } {
  return {
    totals: `SELECT toUInt64(sum(total_events)) AS total_events, toUInt64(uniqExactMerge(unique_users)) AS unique_users
${WHERE(db)}`,
    byChannel: `SELECT channel AS grp, toUInt64(sum(total_events)) AS total_events, toUInt64(uniqExactMerge(unique_users)) AS unique_users
${WHERE(db)}
GROUP BY channel
ORDER BY total_events DESC, grp ASC`,
    byHour: `SELECT toUnixTimestamp(hour) AS grp, toUInt64(sum(total_events)) AS total_events, toUInt64(uniqExactMerge(unique_users)) AS unique_users
${WHERE(db)}
GROUP BY hour
ORDER BY hour ASC`,
  };
}

export function hourLabel(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace('.000Z', 'Z');
}

export async function queryEventMetrics(store: AnalyticsStore, request: EventMetricsRequest, nowMs = Date.now()): Promise<EventMetricsResponse> {
  const to = request.to ?? Math.floor(nowMs / 1000);
  const from = request.from ?? Math.max(0, to - DAY_SECONDS);
  if (from > to) throw new BadRequestError(`from (${from}) must not be after to (${to})`);
  const params = { event_name: request.event_name, from, to };
  const sql = eventMetricsSql(store.database);
  const [totals] = await store.query<{ total_events: number; unique_users: number }>(sql.totals, params);
  let data: EventMetricsGroup[] = [];
  if (request.group_by) {
    const rows = await store.query<{ grp: string | number; total_events: number; unique_users: number }>(
      request.group_by === 'channel' ? sql.byChannel : sql.byHour,
      params,
    );
    data = rows.map((row) => ({
      group: request.group_by === 'hour' ? hourLabel(Number(row.grp)) : String(row.grp),
      total_events: Number(row.total_events),
      unique_users: Number(row.unique_users),
    }));
  }
  return {
    event_name: request.event_name,
    from,
    to,
    grouped_by: request.group_by ?? null,
    total_events: Number(totals?.total_events ?? 0),
    unique_users: Number(totals?.unique_users ?? 0),
    data,
  };
}

export type AnalyticsHandler = (query: Record<string, string>) => Promise<{ statusCode: number; body: unknown }>;

/**
 * The adapter the ingress's GET /metrics calls when event_name is present. 400 with seed 004's
 * {"error": "..."} for bad parameters; 503 when the store cannot answer.
 */
export function createAnalyticsHandler(store: AnalyticsStore, options: { now?: () => number } = {}): AnalyticsHandler {
  const now = options.now ?? Date.now;
  return async (query) => {
    try {
      const request = parseEventMetricsQuery(query);
      return { statusCode: 200, body: await queryEventMetrics(store, request, now()) };
    } catch (error) {
      if (error instanceof BadRequestError) return { statusCode: 400, body: { error: error.message } };
      return { statusCode: 503, body: { error: `analytics store unavailable: ${(error as Error).message}` } };
    }
  };
}

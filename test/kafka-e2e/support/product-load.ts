import { randomUUID } from 'node:crypto';
import type { Log } from '../../../log/Log.js';
import { readAll } from '../../support/streams.js';
import type { ClickHouseCounts } from '../fixtures/pipeline-process.js';

const HOUR = 3_600_000;

export interface ProductEvent {
  event_id: string;
  event_name: string;
  channel: string;
  user_id: string;
  timestamp: number;
}

/** Seed 004 product events with ids of their own, stamped now. */
export function productEvents(count: number, tag: string, now = Date.now()): ProductEvent[] {
  const names = ['product_view', 'add_to_cart', 'checkout'];
  const channels = ['web', 'mobile', 'email'];
  return Array.from({ length: count }, (_, i) => ({
    event_id: `${tag}-${i}-${randomUUID().slice(0, 8)}`,
    event_name: names[i % 3]!,
    channel: channels[(i >> 2) % 3]!,
    user_id: `user_${(i * 7) % 97}`,
    // In arrival order within one window: an earlier hour would be later than the grace (5 min) and rightly dropped.
    timestamp: now,
  }));
}

/** POST /events/bulk in batches; every batch must be answered 202. */
export async function sendEvents(address: string, events: ProductEvent[], batch = 500): Promise<void> {
  for (let i = 0; i < events.length; i += batch) {
    const response = await fetch(`${address}/events/bulk`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events.slice(i, i + batch)) });
    if (response.status !== 202) throw new Error(`POST /events/bulk answered ${response.status}: ${await response.text()}`);
  }
}

/** What the ClickHouse counts must be for these (distinct) events, computed without the pipeline. */
export function expectedCounts(events: ProductEvent[]): Omit<ClickHouseCounts, 'uniqueEvents'> & { uniqueEvents: number } {
  const unique = new Map(events.map((e) => [e.event_id, e]));
  const channelHourly: Record<string, number> = {};
  for (const e of unique.values()) {
    const id = `${e.event_name}|${e.channel}|${e.timestamp - (e.timestamp % HOUR)}`;
    channelHourly[id] = (channelHourly[id] ?? 0) + 1;
  }
  return { events: unique.size, uniqueEvents: unique.size, hourlyTotal: unique.size, channelHourly };
}

/** The ClickHouse event counts are complete once every event is in (more would be a duplicate). */
export function reached(expected: ClickHouseCounts): (counts: ClickHouseCounts) => boolean {
  return (counts) => counts.events >= expected.events;
}

/** The ClickHouse counts compared exactly (window rows are checked on the aggregates topic). */
export function eventCounts(counts: ClickHouseCounts): Omit<ClickHouseCounts, 'channelHourly'> {
  return { events: counts.events, uniqueEvents: counts.uniqueEvents, hourlyTotal: counts.hourlyTotal };
}

/** event_channel_hourly's final count per "key|window_start" on the aggregates topic (last row per key wins, as compaction keeps it). */
export async function channelHourlyFinals(log: Log, topic: string): Promise<Record<string, number>> {
  const finals: Record<string, number> = {};
  for (const record of await readAll(log, topic)) {
    const row = JSON.parse(record.value!.toString()) as { aggregator: string; key: string; window_start: number; count: number };
    if (row.aggregator === 'event_channel_hourly') finals[`${row.key}|${row.window_start}`] = row.count;
  }
  return finals;
}

/** Polls the aggregates topic until its final rows equal expected (buffered emission lags by its interval). */
export async function waitForAggregates(log: Log, topic: string, expected: Record<string, number>, timeoutMs = 30_000): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const finals = await channelHourlyFinals(log, topic);
    if (JSON.stringify(Object.entries(finals).sort()) === JSON.stringify(Object.entries(expected).sort()) || Date.now() > deadline) return finals;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Topic names and ids of one test on the shared broker: nothing collides with other suites. */
export function isolatedEnv(tag: string): Record<string, string> {
  const t = (name: string) => `${tag}.${name}`;
  return {
    APPLICATION_ID: `${tag}-app`,
    SINK_GROUP_ID: `${tag}-sink`,
    KAFKA_TOPIC: t('events.raw'),
    DLQ_TOPIC: t('events-dlq'),
    KAFKA_TOPIC_ATTEMPTS: t('user.attempts'),
    KAFKA_TOPIC_SESSIONS: t('user.sessions'),
    KAFKA_TOPIC_PLACEMENTS: t('user.placements'),
    KAFKA_TOPIC_ACTIVITIES: t('user.activities'),
    KAFKA_TOPIC_ML_TRAINING: t('ml.training_events'),
    REF_USERS_TOPIC: t('ref.users'),
    REF_ITEMS_TOPIC: t('ref.items'),
    AGGREGATES_TOPIC: t('processor.aggregates'),
    CLEAN_EVENTS_TOPIC: t('events.clean'),
    KAFKA_CLIENT_ID: tag,
  };
}

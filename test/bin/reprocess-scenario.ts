import { pino } from 'pino';
import { startService, type RunningService } from '../../app/Service.js';
import type { Log, TopicPartition } from '../../log/Log.js';
import { liveKeys } from '../../bin/commands/backfill.js';
import { runStreamline, type CliRun } from '../support/cli-runner.js';

export type Run = CliRun;

/** The CLI as a user runs it, without a terminal, at LOG_LEVEL warn unless `env` says otherwise. */
export function streamline(args: string[], env: Record<string, string>): Promise<Run> {
  return runStreamline(args, { LOG_LEVEL: 'warn', ...env });
}

const HOUR = 3_600_000;
const EVENT_NAMES = ['product_view', 'add_to_cart', 'purchase', 'search'];
const CHANNELS = ['web', 'mobile', 'api', 'email'];

/**
 * Landing-topic envelopes as the ingress writes them: product events over six hours, `users`
 * users, and every 50th event sent twice (a client retry the topology's dedupe drops). Returns
 * the records and the number of distinct events.
 */
export function landingEvents(count: number, endMs: number, users = 400): { values: Array<{ key: string; value: string; timestamp: number }>; distinct: number } {
  const values: Array<{ key: string; value: string; timestamp: number }> = [];
  for (let i = 0; i < count; i++) {
    const user = `u-${(i * 7919) % users}`;
    const ts = endMs - 6 * HOUR + Math.floor((i / count) * 6 * HOUR);
    const envelope = {
      v: 1,
      event_id: `ev-${i}`,
      id_assigned: false,
      event_type: 'product',
      source: 'product',
      received_at: ts + 5,
      payload: { event_name: EVENT_NAMES[i % EVENT_NAMES.length], channel: CHANNELS[(i >> 2) % CHANNELS.length], user_id: user, timestamp: ts, properties: { i } },
    };
    const value = JSON.stringify(envelope);
    values.push({ key: user, value, timestamp: ts });
    if (i % 50 === 49) values.push({ key: user, value, timestamp: ts });
  }
  return { values, distinct: count };
}

export async function produceLanding(log: Log, topic: string, events: ReturnType<typeof landingEvents>, partitions = 4): Promise<void> {
  await log.ensureTopic(topic, { partitions });
  for (let i = 0; i < events.values.length; i += 5000) {
    await log.produce(events.values.slice(i, i + 5000).map((e) => ({ topic, key: Buffer.from(e.key), value: Buffer.from(e.value), timestamp: e.timestamp })));
  }
}

/** Committed lag of `group` over `topics`, transaction markers (Kafka) not counted as records. */
export async function lagOf(log: Log, group: string, topics: string[]): Promise<number> {
  let lag = 0;
  for (const topic of topics) {
    const tps: TopicPartition[] = Array.from({ length: await log.partitionCount(topic) }, (_, partition) => ({ topic, partition }));
    const committed = await log.committedOffsets(group, tps);
    for (const tp of tps) {
      const at = committed.get(`${topic}:${tp.partition}`) ?? 0;
      const end = await log.endOffset(tp);
      // On Kafka a transactional topic ends with a commit marker: an offset no consumer is given.
      if (at < end && (await log.read(tp, at, 1)).some((record) => record.offset < end)) lag += end - at;
    }
  }
  return lag;
}

/**
 * Buffered aggregate windows not emitted yet: live keys of the application's pending changelogs.
 * Buffered rows leave at the wall-clock emit after the commit that covered their input, and the
 * emit deletes the pending entries in the commit that writes the rows.
 */
export async function pendingWindows(log: Log, applicationId: string): Promise<number> {
  let pending = 0;
  for (const topic of (await log.listTopics()).filter((t) => t.startsWith(`${applicationId}-agg-`) && t.endsWith('-pending-changelog'))) {
    pending += await liveKeys(log, topic);
  }
  return pending;
}

const TABLES = ['events_raw', 'attempts', 'sessions', 'placements', 'window_aggregates'];
/** Columns that say where and when a row was written, not what it holds: a reprocess writes the same rows from other offsets. */
const PROVENANCE = new Set(['topic', 'partition', 'offset', 'emitted_at']);

export type Snapshot = Record<string, { rows: number; hash: string }>;

/**
 * Every table the sink owns as (row count, order-free hash of the rows without provenance
 * columns): window_aggregates read FINAL (one row per window, the last update), the hourly view's
 * target merged per (event_name, channel, hour). Two runs with equal snapshots hold the same rows
 * the same number of times.
 */
export async function snapshotTables(sql: <T>(query: string) => Promise<T[]>, options: { windowsEndingBy?: number } = {}): Promise<Snapshot> {
  const snapshot: Snapshot = {};
  for (const table of TABLES) {
    const columns = (await sql<{ name: string }>(`SELECT name FROM system.columns WHERE database = 'events_db' AND table = '${table}' ORDER BY position`))
      .map((c) => c.name)
      .filter((name) => !PROVENANCE.has(name));
    const until = options.windowsEndingBy === undefined ? '' : ` WHERE window_end <= fromUnixTimestamp64Milli(${options.windowsEndingBy}, 'UTC')`;
    const final = table === 'window_aggregates' ? ` FINAL${until}` : '';
    const [row] = await sql<{ rows: number | string; hash: string }>(
      `SELECT count() AS rows, toString(sum(cityHash64(${columns.map((c) => `\`${c}\``).join(', ')}))) AS hash FROM events_db.${table}${final}`,
    );
    snapshot[table] = { rows: Number(row!.rows), hash: row!.hash };
  }
  const [hourly] = await sql<{ rows: number | string; hash: string; total: number | string }>(
    `SELECT count() AS rows, toString(sum(cityHash64(event_name, channel, hour, t, u))) AS hash, toUInt64(sum(t)) AS total FROM (
       SELECT event_name, channel, hour, sum(total_events) AS t, uniqExactMerge(unique_users) AS u FROM events_db.event_metrics_hourly GROUP BY event_name, channel, hour)`,
  );
  snapshot.event_metrics_hourly = { rows: Number(hourly!.rows), hash: `${hourly!.hash}/${hourly!.total}` };
  return snapshot;
}

/** window_aggregates FINAL per aggregator: "rows/order-free hash" without provenance. */
export async function perAggregator(sql: <T>(query: string) => Promise<T[]>): Promise<Record<string, string>> {
  const rows = await sql<{ aggregator: string; n: number | string; h: string }>(
    `SELECT aggregator, count() AS n, toString(sum(cityHash64(aggregator, key, window_start, window_end, count, sum, min, max, fields))) AS h
     FROM events_db.window_aggregates FINAL GROUP BY aggregator ORDER BY aggregator`,
  );
  return Object.fromEntries(rows.map((r) => [r.aggregator, `${r.n}/${r.h}`]));
}

export interface PipelineTopics {
  landing: string;
  clean: string;
  aggregates: string;
  applicationId: string;
  sinkGroup: string;
}

/**
 * Starts the service in this process and waits until it has processed everything on the landing
 * topic and the sink has written everything the topology produced: both groups without lag, and
 * events_raw at `distinct` rows, and no buffered aggregate window left unemitted.
 */
export async function runUntilCaughtUp(
  env: Record<string, string>,
  topics: PipelineTopics,
  distinct: number,
  timeoutMs: number,
  snapshotOptions: { windowsEndingBy?: number } = {},
): Promise<{ snapshot: Snapshot; aggregators: Record<string, string>; cpuMs: number }> {
  const cpuStart = process.cpuUsage();
  const running: RunningService = await startService(env, pino({ level: 'warn' }));
  try {
    await running.started;
    const deadline = Date.now() + timeoutMs;
    const count = async () => Number((await running.analyticsSql<{ n: number | string }>('SELECT count() AS n FROM events_db.events_raw'))[0]!.n);
    for (;;) {
      const topologyLag = await lagOf(running.log, topics.applicationId, [topics.landing]);
      // No pending window left, then (checked after) the sink through everything written.
      const pending = await pendingWindows(running.log, topics.applicationId);
      const sinkLag = await lagOf(running.log, topics.sinkGroup, [topics.clean, topics.aggregates]);
      const rows = await count();
      if (topologyLag === 0 && pending === 0 && sinkLag === 0 && rows >= distinct) break;
      if (Date.now() > deadline) throw new Error(`not caught up after ${timeoutMs} ms: topology lag ${topologyLag}, pending windows ${pending}, sink lag ${sinkLag}, events_raw ${rows}/${distinct}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const snapshot = await snapshotTables((query) => running.analyticsSql(query), snapshotOptions);
    const aggregators = await perAggregator((query) => running.analyticsSql(query));
    const cpu = process.cpuUsage(cpuStart);
    return { snapshot, aggregators, cpuMs: Math.round((cpu.user + cpu.system) / 1000) };
  } finally {
    await running.stop();
  }
}

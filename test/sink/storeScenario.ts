import type { AnalyticsStore, Row } from '../../sink/AnalyticsStore.js';
import { migrate } from '../../sink/Migrator.js';
import { rawEventMapper } from '../../sink/RowMappers.js';
import { queryEventMetrics, type EventMetricsResponse } from '../../sink/EventMetricsQuery.js';
import { clickHouseErrorCode } from '../../sink/InsertErrors.js';
import { insertIsolatingPoison } from '../../sink/PoisonIsolation.js';
import { asLogRecord, envelope, EVENT_NAMES, generateEvents, poisonCases } from './generate.js';

export interface ScenarioResult {
  firstMigration: number[];
  secondMigration: number[];
  counts: { raw: number; distinct: number; mv: number };
  metrics: EventMetricsResponse[];
  /** 20 rows with two the engine refuses, isolated twice under one token (the second walk a replay). */
  poison: { refused: number[][]; codes: Array<number | undefined>; rowsIn: number };
}

/**
 * The same statements, inserts and queries against any AnalyticsStore: migrations twice, 2000
 * events in four tokened batches, every batch replayed, then seed 004 answers.
 */
export async function runStoreScenario(store: AnalyticsStore, nowMs: number, seed: number): Promise<ScenarioResult> {
  const firstMigration = (await migrate(store, { eventsTtlDays: 0 })).applied;
  const secondMigration = (await migrate(store, { eventsTtlDays: 0 })).applied;
  const events = generateEvents(2000, nowMs, 10, seed);
  for (let replay = 0; replay < 2; replay++) {
    for (let first = 0; first < events.length; first += 500) {
      const rows = events.slice(first, first + 500).map((e, i) => rawEventMapper(envelope(e), asLogRecord(envelope(e), 'events.raw', 0, first + i)) as Row);
      await store.insert('events_raw', rows, { dedupToken: `events.raw:0:${first}-${first + rows.length - 1}` });
    }
  }
  const one = async (sql: string) => Number((await store.query<{ n: number }>(sql))[0]!.n);
  const db = store.database;
  const counts = {
    raw: await one(`SELECT count() AS n FROM ${db}.events_raw`),
    distinct: await one(`SELECT uniqExact(event_id) AS n FROM ${db}.events_raw`),
    mv: await one(`SELECT toUInt64(sum(total_events)) AS n FROM ${db}.event_metrics_hourly`),
  };
  const metrics: EventMetricsResponse[] = [];
  const to = Math.floor(nowMs / 1000);
  for (const event_name of EVENT_NAMES) {
    for (const group_by of ['channel', 'hour'] as const) {
      metrics.push(await queryEventMetrics(store, { event_name, from: to - 11 * 3600, to, group_by }));
    }
  }
  const poisonRows = generateEvents(20, nowMs, 1, seed + 1).map((e, i) => {
    const record = asLogRecord(envelope(e), 'poison', 0, i);
    if (i === 3 || i === 17) record.value = poisonCases(nowMs, `scenario-${i}`)[i === 3 ? 0 : 1]!.value;
    return rawEventMapper(JSON.parse(record.value!.toString()), record) as Row;
  });
  const walks = [];
  for (let replay = 0; replay < 2; replay++) walks.push(await insertIsolatingPoison(store, 'events_raw', poisonRows, { dedupToken: 'poison:0:0-19', maxRowsPerInsert: store.maxRowsPerInsert }));
  const poison = {
    refused: walks.map((walk) => walk.map((row) => row.index)),
    codes: walks[0]!.map((row) => clickHouseErrorCode(row.error)),
    rowsIn: await one(`SELECT count() AS n FROM ${db}.events_raw WHERE topic = 'poison'`),
  };
  return { firstMigration, secondMigration, counts, metrics, poison };
}

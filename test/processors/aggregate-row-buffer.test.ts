import { DEFAULT_AGGREGATORS } from '../../processors/AggregationSpecs.js';
import type { LearningEvent } from '../../processors/LandingEvent.js';
import { addWindowedAggregations, allAggregateRows, type AggregateRow, type AggregatorHandle } from '../../processors/WindowedAggregations.js';
import { StreamsBuilder } from '../../topology/index.js';
import { afterCommitWhen, jsonValues, readAll } from '../support/streams.js';
import { harness } from './support.js';

const HOUR = 3_600_000;
const H = Date.UTC(2024, 0, 15, 10);
const APP = 'row-buffer';
const PENDING_CHANGELOG = `${APP}-agg-user_hourly_attempts-pending-changelog`;
const USERS = 100;

function attempt(i: number): LearningEvent {
  const user = `u${i % USERS}`;
  const t = H + i * 1000;
  return {
    v: 1,
    event_id: `e${i}`,
    id_assigned: false,
    event_type: 'attempt',
    kind: 'attempt',
    source: 'seed000',
    received_at: t,
    event_time: t,
    user_id: user,
    payload: { item_id: 'i1', correct: i % 2 === 0, time_taken_ms: 1000 + i },
    enrichment: { user: null, item: null, derived: { local_hour: 0, time_of_day: 'night', timezone: 'UTC' } },
  };
}

describe('buffered aggregate rows (AggregateRowBuffer)', () => {
  test('windows first updated since a commit are changelogged as one pending entry per commit, and a restart before the emit still emits every one', async () => {
    const h = await harness(APP);
    try {
      await h.log.ensureTopic('events', { partitions: 1 });
      const events = Array.from({ length: 3 * USERS }, (_, i) => attempt(i));
      // Several produce calls, so the run commits more than once while the windows fill.
      for (let i = 0; i < events.length; i += 25) {
        await h.log.produce(events.slice(i, i + 25).map((e) => ({ topic: 'events', key: Buffer.from(e.user_id), value: Buffer.from(JSON.stringify(e)), timestamp: e.event_time })));
      }
      const spec = DEFAULT_AGGREGATORS.find((s) => s.name === 'user_hourly_attempts')!;
      const build = (emitIntervalMs: number): { builder: StreamsBuilder; handles: AggregatorHandle[] } => {
        const builder = new StreamsBuilder();
        const handles = addWindowedAggregations(builder.stream<string, LearningEvent>('events'), [spec], { topic: 'aggregates', graceMs: HOUR, emit: 'buffered', emitIntervalMs });
        return { builder, handles };
      };

      // Run 1: an emit interval of an hour, so nothing is emitted before the app closes.
      const first = build(HOUR);
      await h.run(first.builder, ['events'], { applicationId: APP });
      await h.app!.close();
      h.app = undefined;
      expect(await readAll(h.log, 'aggregates')).toHaveLength(0);
      const pendingRecords = await readAll(h.log, PENDING_CHANGELOG);
      // One entry per commit that saw new windows (the old layout wrote one per window: 100).
      expect(pendingRecords.length).toBeGreaterThan(0);
      expect(pendingRecords.length).toBeLessThan(USERS / 2);
      const pendingWindows = pendingRecords.flatMap((r) => JSON.parse(r.value!.toString()) as Array<[string, string, number]>);
      expect(new Set(pendingWindows.map(([rowKey]) => rowKey)).size).toBe(USERS);
      expect(pendingWindows).toContainEqual([`user_hourly_attempts|u7|${H}`, 'u7', H]);

      // A window marked in the layout written before batches (row key -> { k, s }) is emitted too.
      await h.log.produce([{ topic: PENDING_CHANGELOG, partition: 0, key: Buffer.from(`user_hourly_attempts|u7|${H}`), value: Buffer.from(JSON.stringify({ k: 'u7', s: H })), timestamp: H }]);

      // Run 2, from the same state: every pending window's row is emitted once, with the final aggregate.
      const second = build(10);
      // (Its inputs are committed to their end already: run() returns at once, the rows come with the first commits.)
      const app = await h.run(second.builder, ['events'], { applicationId: APP });
      let rows: AggregateRow[] = [];
      await afterCommitWhen(app, async () => {
        rows = jsonValues<AggregateRow>(await readAll(h.log, 'aggregates'));
        return rows.length >= USERS;
      });
      expect(rows).toHaveLength(USERS);
      const expected = new Map(allAggregateRows(app, second.handles).map((r) => [`${r.key}|${r.window_start}`, r]));
      expect(expected.size).toBe(USERS);
      for (const row of rows) expect(row).toEqual(expected.get(`${row.key}|${row.window_start}`));
      expect(expected.get(`user:u7|${H}`)).toMatchObject({ count: 3 });

      // And the pending store is emptied in the same commit: every key's last changelog record is a tombstone.
      await afterCommitWhen(app, async () => {
        const last = new Map((await readAll(h.log, PENDING_CHANGELOG)).map((r) => [r.key!.toString(), r.value]));
        return [...last.values()].every((value) => value === null);
      });
    } finally {
      await h.close();
    }
  }, 120_000);
});

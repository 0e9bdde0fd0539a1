import fs from 'node:fs';
import path from 'node:path';
import type { Log } from '../../log/Log.js';
import { ChdbStore } from '../../sink/ChdbStore.js';
import { queryEventMetrics } from '../../sink/EventMetricsQuery.js';
import { runFixture } from './child.js';
import { envelope, EVENT_NAMES, expectedMetrics, generateEvents, tempDir } from './generate.js';

export interface CrashMode {
  name: string;
  topic: string;
  groupId: string;
  /** Opens the log from the test process while no sink child runs (embedded: one process at a time). */
  openLog(dir: string): Promise<Log>;
  /** What the sink child needs to open the same log (fixtures/sink-child.ts). */
  childEnv: Record<string, string>;
}

const PARTITIONS = 3;
const COUNT = 6000;

/**
 * A sink child SIGKILLed after a batch is in ClickHouse and before its offsets are committed,
 * twice (the second restart with other batch settings, so only the recorded cuts can rebuild the
 * replayed batch), then run to the end: raw rows, view totals and seed 004 answers must be exact.
 */
export function crashScenario(mode: CrashMode): void {
  describe(`a sink SIGKILLed between the ClickHouse insert and the offset commit (${mode.name} log)`, () => {
    const dir = tempDir(`crash-${mode.name}`);
    const now = Date.now();
    const events = generateEvents(COUNT, now, 30, 99);
    const tps = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: mode.topic, partition }));
    const env = (extra: Record<string, string>) => ({ SINK_DIR: dir, SINK_TOPIC: mode.topic, SINK_GROUP: mode.groupId, ...mode.childEnv, ...extra });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** Committed offsets and table counts, read while no sink process runs. */
    async function inspect() {
      const log = await mode.openLog(dir);
      const committed = [...(await log.committedOffsets(mode.groupId, tps)).values()].reduce((a, b) => a + b, 0);
      await log.close();
      const store = await ChdbStore.open({ path: path.join(dir, 'chdb') });
      try {
        const one = async (sql: string) => (await store.query<{ n: number }>(sql))[0]!.n;
        const counts = {
          raw: await one('SELECT count() AS n FROM events_db.events_raw'),
          distinct: await one('SELECT uniqExact(event_id) AS n FROM events_db.events_raw'),
          mv: await one('SELECT toUInt64(sum(total_events)) AS n FROM events_db.event_metrics_hourly'),
        };
        const metrics = [];
        for (const event_name of EVENT_NAMES) {
          for (const group_by of ['channel', 'hour'] as const) {
            metrics.push(await queryEventMetrics(store, { event_name, from: Math.floor(now / 1000) - 31 * 3600, to: Math.floor(now / 1000), group_by }));
          }
        }
        return { committed, counts, metrics };
      } finally {
        await store.close();
      }
    }

    test('restarts leave every count exact', async () => {
      const log = await mode.openLog(dir);
      await log.ensureTopic(mode.topic, { partitions: PARTITIONS });
      await log.produce(events.map((e) => ({ topic: mode.topic, key: Buffer.from(e.user_id), value: Buffer.from(JSON.stringify(envelope(e))) })));
      await log.close();

      // 1st run: killed after its 3rd batch is in ClickHouse, before that batch is committed.
      const first = await runFixture('sink-child.ts', env({ SINK_CRASH_AFTER_BATCHES: '3', SINK_MAX_BATCH: '500', SINK_LINGER_MS: '20' }), { stdinData: '(1)\n' });
      expect(first.signal).toBe('SIGKILL');
      expect(first.stdout).toMatch(/CRASHING .+:\d:\d+-\d+/);
      const afterCrash = await inspect();
      // The crash hit the window: ClickHouse holds more rows than the committed offsets account for.
      expect(afterCrash.counts.raw).toBeGreaterThan(afterCrash.committed);
      expect(afterCrash.counts.raw).toBe(afterCrash.counts.distinct);

      // 2nd run, other batch settings (its replay must follow the recorded cuts): killed again.
      const second = await runFixture('sink-child.ts', env({ SINK_CRASH_AFTER_BATCHES: '5', SINK_MAX_BATCH: '300', SINK_LINGER_MS: '1' }));
      expect(second.signal).toBe('SIGKILL');
      const afterSecond = await inspect();
      expect(afterSecond.counts.raw).toBeGreaterThan(afterSecond.committed);
      expect(afterSecond.counts.raw).toBe(afterSecond.counts.distinct);

      // 3rd run finishes.
      const third = await runFixture('sink-child.ts', env({ SINK_MAX_BATCH: '800', SINK_LINGER_MS: '50' }));
      expect(third.stderr).toBe('');
      expect(third.code).toBe(0);
      expect(third.stdout).toContain('DONE');

      const final = await inspect();
      expect(final.committed).toBe(COUNT);
      expect(final.counts).toEqual({ raw: COUNT, distinct: COUNT, mv: COUNT });
      for (const answer of final.metrics) {
        const expected = expectedMetrics(events, answer.event_name, answer.from, answer.to);
        expect(answer.total_events).toBe(expected.total_events);
        expect(answer.unique_users).toBe(expected.unique_users);
        const groups = new Map(answer.data.map((g) => [g.group, { total_events: g.total_events, unique_users: g.unique_users }]));
        expect(groups).toEqual(answer.grouped_by === 'channel' ? expected.byChannel : expected.byHour);
      }
    });
  });
}

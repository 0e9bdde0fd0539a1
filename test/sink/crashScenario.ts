import fs from 'node:fs';
import path from 'node:path';
import type { Log } from '../../log/Log.js';
import type { AnalyticsStore } from '../../sink/AnalyticsStore.js';
import { ChdbStore } from '../../sink/ChdbStore.js';
import { queryEventMetrics } from '../../sink/EventMetricsQuery.js';
import { runFixture } from '../support/fixture-process.js';
import { envelope, EVENT_NAMES, expectedMetrics, generateEvents, poisonCases } from './generate.js';
import { tempDir } from '../support/temp-dir.js';
import { DLQ_REASON, ORIGINAL_OFFSET, ORIGINAL_PARTITION, ORIGINAL_TOPIC } from '../../topology/runtime/DeadLetters.js';

export interface CrashMode {
  name: string;
  topic: string;
  groupId: string;
  /** Opens the log from the test process while no sink child runs (embedded: one process at a time). */
  openLog(dir: string): Promise<Log>;
  /** What the sink child needs to open the same log (fixtures/sink-child.ts). */
  childEnv: Record<string, string>;
}

/**
 * Where crashScenario's sinks write, when not chDB in the scenario's dir: a ClickHouse server
 * started before the test (the server path's crash test), its URL handed to the sink child.
 */
export interface CrashAnalytics {
  start(dir: string): Promise<void>;
  stop(): Promise<void>;
  openStore(): Promise<AnalyticsStore>;
  /** Read after start(): what the sink child needs to reach the same server. */
  childEnv(): Record<string, string>;
}

export interface CrashOptions {
  /** The describe title; by default one naming the log mode. */
  title?: string;
  analytics?: CrashAnalytics;
  seed?: number;
  /** Per sink child run (runFixture's own default otherwise). */
  childTimeoutMs?: number;
  testTimeoutMs?: number;
}

const PARTITIONS = 3;
const COUNT = 6000;
/** Three sink processes, each opening chDB: well under a minute on an idle machine, minutes on a loaded one. */
const CHILD_RUNS_TIMEOUT_MS = 300_000;

/**
 * A sink child SIGKILLed after a batch is in ClickHouse and before its offsets are committed,
 * twice (the second restart with other batch settings, so only the recorded cuts can rebuild the
 * replayed batch), then run to the end: raw rows, view totals and seed 004 answers must be exact.
 */
export function crashScenario(mode: CrashMode, options: CrashOptions = {}): void {
  const { analytics } = options;
  const title = options.title ?? `a sink SIGKILLed between the ClickHouse insert and the offset commit (${mode.name} log)`;
  describe(title, () => {
    const dir = tempDir(`crash-${mode.name}`);
    const now = Date.now();
    const events = generateEvents(COUNT, now, 30, options.seed ?? 99);
    const tps = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: mode.topic, partition }));
    const env = (extra: Record<string, string>) => ({
      SINK_DIR: dir, SINK_TOPIC: mode.topic, SINK_GROUP: mode.groupId, ...mode.childEnv, ...analytics?.childEnv(), ...extra,
    });
    const childRun = (extra: { stdinData?: string } = {}) => ({ ...extra, ...(options.childTimeoutMs ? { timeoutMs: options.childTimeoutMs } : {}) });
    if (analytics) beforeAll(() => analytics.start(dir), 60_000);
    afterAll(async () => {
      await analytics?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /** Committed offsets and table counts, read while no sink process runs. */
    async function inspect() {
      const log = await mode.openLog(dir);
      const committed = [...(await log.committedOffsets(mode.groupId, tps)).values()].reduce((a, b) => a + b, 0);
      await log.close();
      const store = analytics ? await analytics.openStore() : await ChdbStore.open({ path: path.join(dir, 'chdb') });
      try {
        // Number(): the server path answers 64-bit counts as strings.
        const one = async (sql: string) => Number((await store.query<{ n: number | string }>(sql))[0]!.n);
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
      const first = await runFixture('test/sink/fixtures/sink-child.ts', env({ SINK_CRASH_AFTER_BATCHES: '3', SINK_MAX_BATCH: '500', SINK_LINGER_MS: '20' }), childRun({ stdinData: '(1)\n' }));
      expect(first.signal).toBe('SIGKILL');
      expect(first.stdout).toMatch(/CRASHING .+:\d:\d+-\d+/);
      const afterCrash = await inspect();
      // The crash hit the window: ClickHouse holds more rows than the committed offsets account for.
      expect(afterCrash.counts.raw).toBeGreaterThan(afterCrash.committed);
      expect(afterCrash.counts.raw).toBe(afterCrash.counts.distinct);

      // 2nd run, other batch settings (its replay must follow the recorded cuts): killed again.
      const second = await runFixture('test/sink/fixtures/sink-child.ts', env({ SINK_CRASH_AFTER_BATCHES: '5', SINK_MAX_BATCH: '300', SINK_LINGER_MS: '1' }), childRun());
      expect(second.signal).toBe('SIGKILL');
      const afterSecond = await inspect();
      expect(afterSecond.counts.raw).toBeGreaterThan(afterSecond.committed);
      expect(afterSecond.counts.raw).toBe(afterSecond.counts.distinct);

      // 3rd run finishes.
      const third = await runFixture('test/sink/fixtures/sink-child.ts', env({ SINK_MAX_BATCH: '800', SINK_LINGER_MS: '50' }), childRun());
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
    }, options.testTimeoutMs ?? CHILD_RUNS_TIMEOUT_MS);
  });
}

/**
 * Poison records in the stream (generate.ts poisonCases, twice over), and a sink child SIGKILLed
 * in the middle of isolating a refused row, then again after a batch with dead letters is in
 * ClickHouse but before its dead letters and offsets are committed (each restart with other batch
 * settings), then run to the end: every good row once, every poison record in the DLQ exactly once.
 */
export function poisonCrashScenario(mode: CrashMode): void {
  describe(`poison records and a sink SIGKILLed while isolating them (${mode.name} log)`, () => {
    const dir = tempDir(`poison-crash-${mode.name}`);
    const topic = `${mode.topic}-poison`;
    const groupId = `${mode.groupId}-poison`;
    const dlqTopic = `${mode.topic}-poison-dlq`;
    const now = Date.now();
    const good = generateEvents(1500, now, 10, 77);
    const poison = [...poisonCases(now, 'first'), ...poisonCases(now, 'second')];
    const tps = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));
    const env = (extra: Record<string, string>) => ({
      SINK_DIR: dir, SINK_TOPIC: topic, SINK_GROUP: groupId, SINK_POISON: '1', SINK_DLQ_TOPIC: dlqTopic, ...mode.childEnv, ...extra,
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    async function inspect() {
      const log = await mode.openLog(dir);
      const committed = [...(await log.committedOffsets(groupId, tps)).values()].reduce((a, b) => a + b, 0);
      const letters = (await log.listTopics()).includes(dlqTopic) ? await log.read({ topic: dlqTopic, partition: 0 }, 0, 1000) : [];
      await log.close();
      const store = await ChdbStore.open({ path: path.join(dir, 'chdb') });
      try {
        const one = async (sql: string) => (await store.query<{ n: number }>(sql))[0]!.n;
        return {
          committed,
          letters,
          raw: await one('SELECT count() AS n FROM events_db.events_raw'),
          distinct: await one('SELECT uniqExact(partition, offset) AS n FROM events_db.events_raw'),
          mv: await one('SELECT toUInt64(sum(total_events)) AS n FROM events_db.event_metrics_hourly'),
        };
      } finally {
        await store.close();
      }
    }

    test('restarts in the middle of an isolation leave every count exact and each poison record dead-lettered once', async () => {
      const log = await mode.openLog(dir);
      await log.ensureTopic(topic, { partitions: PARTITIONS });
      const record = (e: (typeof good)[number]) => ({ topic, key: Buffer.from(e.user_id), value: Buffer.from(JSON.stringify(envelope(e))) });
      await log.produce(good.slice(0, 500).map(record));
      const firstHalf = await log.produce(poison.slice(0, 5).map((p, i) => ({ topic, partition: i % PARTITIONS, key: Buffer.from('user-poison'), value: p.value })));
      await log.produce(good.slice(500, 1000).map(record));
      const secondHalf = await log.produce(poison.slice(5).map((p, i) => ({ topic, partition: (i + 1) % PARTITIONS, key: Buffer.from('user-poison'), value: p.value })));
      await log.produce(good.slice(1000).map(record));
      await log.close();
      const placed = [...firstHalf, ...secondHalf];

      // 1st run: killed after its 3rd isolation insert: part of a refused block is in ClickHouse.
      const first = await runFixture('test/sink/fixtures/sink-child.ts', env({ SINK_CRASH_AFTER_ISOLATION_STEPS: '3', SINK_MAX_BATCH: '500', SINK_LINGER_MS: '20' }), { stdinData: '(1)\n', timeoutMs: 120_000 });
      expect(first.signal).toBe('SIGKILL');
      expect(first.stdout).toMatch(/CRASHING mid-isolation .+:\d:\d+-\d+(\/\d+)?\/rows:\d+-\d+/);
      const afterFirst = await inspect();
      expect(afterFirst.raw).toBe(afterFirst.distinct);

      // 2nd run, other batch settings: the replay follows the recorded cut, walks the same blocks,
      // and is killed once that batch is in ClickHouse, before its dead letters are committed.
      const second = await runFixture('test/sink/fixtures/sink-child.ts', env({ SINK_CRASH_AT_DEAD_LETTERS: '1', SINK_MAX_BATCH: '300', SINK_LINGER_MS: '1' }), { timeoutMs: 120_000 });
      expect(second.signal).toBe('SIGKILL');
      expect(second.stdout).toMatch(/CRASHING .+ dead letters [1-9]/);
      const afterSecond = await inspect();
      expect(afterSecond.raw).toBe(afterSecond.distinct);
      expect(afterSecond.raw).toBeGreaterThanOrEqual(afterFirst.raw);
      // Dead letters go in with their batch's offsets or not at all.
      expect(afterSecond.letters).toHaveLength(afterFirst.letters.length);

      // 3rd run finishes.
      const third = await runFixture('test/sink/fixtures/sink-child.ts', env({ SINK_MAX_BATCH: '800', SINK_LINGER_MS: '50' }), { timeoutMs: 120_000 });
      expect(third.stderr).toBe('');
      expect(third.code).toBe(0);
      expect(third.stdout).toContain('DONE');

      const final = await inspect();
      const rawRows = good.length + poison.filter((p) => p.rawRow).length;
      expect(final.committed).toBe(good.length + poison.length);
      expect({ raw: final.raw, distinct: final.distinct, mv: final.mv }).toEqual({ raw: rawRows, distinct: rawRows, mv: rawRows });
      const where = (l: { headers: Record<string, string> }) => `${l.headers[ORIGINAL_PARTITION]}:${l.headers[ORIGINAL_OFFSET]}`;
      expect(final.letters.map(where).sort()).toEqual(placed.map((p) => `${p.partition}:${p.offset}`).sort());
      for (const [i, p] of poison.entries()) {
        const letter = final.letters.find((l) => where(l) === `${placed[i]!.partition}:${placed[i]!.offset}`)!;
        expect(letter.headers[ORIGINAL_TOPIC]).toBe(topic);
        expect(letter.headers[DLQ_REASON]).toMatch(p.reason);
        expect(letter.value).toEqual(p.value);
      }
    }, CHILD_RUNS_TIMEOUT_MS);
  });
}

import fs from 'node:fs';
import { Registry } from 'prom-client';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { SessionWindows, StreamsApp, StreamsBuilder, type SessionStore, type Windowed } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

/** A learning platform's study sessions: a user's activity with gaps under 10 s is one session. */
describe('session windows', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('sessions');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
    // One partition: one task, so one stream time for every user.
    await log.ensureTopic('activity', { partitions: 1 });
    await log.ensureTopic('sessions-out', { partitions: 1 });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const act = (user: string, timestamp: number) => ({ topic: 'activity', key: Buffer.from(user), value: Buffer.from('{}'), timestamp });

  const topology = () => {
    const builder = new StreamsBuilder();
    builder
      .stream('activity')
      .groupByKey()
      .windowedBy(SessionWindows.ofInactivityGapAndGrace(10_000, 5_000))
      .count({ name: 'study-sessions' })
      .toStream()
      .map((windowed: Windowed<string>, count) => [windowed.key, { start: windowed.windowStart, end: windowed.windowEnd, count }])
      .to('sessions-out');
    return builder.build();
  };

  const sessionsOf = (app: StreamsApp) =>
    app
      .localStores<SessionStore<string, number>>('study-sessions')
      .flatMap((store) => store.all())
      .map(({ key, value }) => `${key.key}@${key.windowStart}/${key.windowEnd}=${value}`)
      .sort();

  async function run(records: ReturnType<typeof act>[], registry = new Registry()): Promise<StreamsApp> {
    if (records.length > 0) await log.produce(records);
    const app = new StreamsApp(topology(), log, { applicationId: 'study', stateDir: `${dir}/state`, registry });
    await app.start();
    await app.whenAssigned();
    await waitForCaughtUp(app, log, 'study', ['activity']);
    return app;
  }

  test('merges sessions a record bridges, tombstoning the merged ones, and drops records past gap + grace', async () => {
    // a: 1000 and 12000 are two sessions; 6500 is within 10 s of both and merges them.
    const app = await run([act('a', 1000), act('a', 12_000), act('a', 6500), act('b', 30_000), act('a', 35_000)]);
    const out = (await readAll(log, 'sessions-out')).filter((r) => r.key!.toString() === 'a').map((r) => [r.timestamp, JSON.parse(r.value!.toString())]);
    expect(out).toEqual([
      [1000, { start: 1000, end: 1000, count: 1 }],
      [12_000, { start: 12_000, end: 12_000, count: 1 }],
      // The merged sessions' tombstones (their end as timestamp), then the merged session.
      [1000, { start: 1000, end: 1000, count: null }],
      [12_000, { start: 12_000, end: 12_000, count: null }],
      [12_000, { start: 1000, end: 12_000, count: 3 }],
      [35_000, { start: 35_000, end: 35_000, count: 1 }],
    ]);
    expect(sessionsOf(app)).toEqual(['a@1000/12000=3', 'a@35000/35000=1', 'b@30000/30000=1']);
    await app.close();

    // Stream time is 35000 (the aggregation's own, restarted from the first record as in Kafka
    // Streams): a record at 19000 is late (its session would end before 35000 - 10000 - 5000);
    // 36000 extends [35000, 35000].
    const registry = new Registry();
    const again = await run([act('a', 36_000), act('a', 19_000)], registry);
    const late = (await registry.getSingleMetric('streamline_processor_events_total')!.get()).values.filter((v) => v.labels.outcome === 'late');
    expect(late.reduce((sum, v) => sum + v.value, 0)).toBe(1);
    expect(sessionsOf(again)).toEqual(['a@1000/12000=3', 'a@35000/36000=2', 'b@30000/30000=1']);
    await again.close();
  });

  test('restores from its changelog: local state deleted, the sessions come back and keep merging', async () => {
    const first = await run([act('a', 1000), act('a', 5000), act('b', 8000), act('c', 9000), act('b', 20_000)]);
    const before = sessionsOf(first);
    expect(before).toEqual(['a@1000/5000=2', 'b@20000/20000=1', 'b@8000/8000=1', 'c@9000/9000=1']);
    await first.close();

    fs.rmSync(`${dir}/state`, { recursive: true, force: true });
    const restored = await run([]);
    expect(sessionsOf(restored)).toEqual(before);
    await restored.close();

    fs.rmSync(`${dir}/state`, { recursive: true, force: true });
    // 14000 bridges b's two sessions: only a restored store knows them.
    const merged = await run([act('b', 14_000)]);
    expect(sessionsOf(merged)).toEqual(['a@1000/5000=2', 'b@8000/20000=3', 'c@9000/9000=1']);
    await merged.close();
  });
  test('drops sessions a segment at a time once the segment lies before stream time - retention, as Kafka Streams drops its segments; the restore agrees', async () => {
    // gap 10 s + grace 5 s: retention 15 s, segments of 60 s (Kafka Streams' minimum) by session end.
    // At stream time 80000 segments ending before floor((80000 - 15000) / 60000) * 60000 = 60000
    // are dropped: a and c go; d (end 61000) is expired (61000 <= 80000 - 15000) but its segment
    // lives on, so it stays, as in Kafka Streams' store.
    const first = await run([act('a', 1000), act('c', 59_999), act('d', 61_000), act('b', 80_000)]);
    expect(sessionsOf(first)).toEqual(['b@80000/80000=1', 'd@61000/61000=1']);
    await first.close();

    fs.rmSync(`${dir}/state`, { recursive: true, force: true });
    const restored = await run([]);
    expect(sessionsOf(restored)).toEqual(['b@80000/80000=1', 'd@61000/61000=1']);
    await restored.close();
    // The next segment, [60000, 120000), goes once stream time - retention reaches 120000: not at 134999, at 135000.
    const later = await run([act('e', 134_999)]);
    expect(sessionsOf(later)).toEqual(['b@80000/80000=1', 'd@61000/61000=1', 'e@134999/134999=1']);
    await later.close();
    const last = await run([act('e', 135_000)]);
    expect(sessionsOf(last)).toEqual(['e@134999/135000=2']);
    await last.close();
  });
  test("emit('onWindowClose'): each session once, final, when stream time passes its end + gap + grace; a restart without local state neither repeats nor skips one", async () => {
    const onClose = () => {
      const builder = new StreamsBuilder();
      builder
        .stream('activity')
        .groupByKey()
        .windowedBy(SessionWindows.ofInactivityGapAndGrace(10_000, 5_000))
        .emit('onWindowClose')
        .count({ name: 'final-sessions' })
        .toStream()
        .map((windowed: Windowed<string>, count) => [windowed.key, { start: windowed.windowStart, end: windowed.windowEnd, count }])
        .to('sessions-out');
      return builder.build();
    };
    const runOnClose = async (records: ReturnType<typeof act>[]) => {
      await log.produce(records);
      const app = new StreamsApp(onClose(), log, { applicationId: 'final', stateDir: `${dir}/state` });
      await app.start();
      await app.whenAssigned();
      await waitForCaughtUp(app, log, 'final', ['activity']);
      await app.close();
    };
    const emitted = async () => (await readAll(log, 'sessions-out')).map((r) => [r.key!.toString(), r.timestamp, JSON.parse(r.value!.toString())]);

    // a's [1000, 6500] is extended by 12000 and closes once stream time reaches 12000 + 15000 + 1.
    await runOnClose([act('a', 1000), act('a', 6500), act('b', 9000), act('a', 12_000), act('c', 27_000)]);
    expect(await emitted()).toEqual([['b', 9000, { start: 9000, end: 9000, count: 1 }]]);
    fs.rmSync(`${dir}/state`, { recursive: true, force: true });
    // After the restore (the last emit's close time included) 27001 closes a's session: b is not emitted again.
    await runOnClose([act('c', 27_001)]);
    expect(await emitted()).toEqual([
      ['b', 9000, { start: 9000, end: 9000, count: 1 }],
      ['a', 12_000, { start: 1000, end: 12_000, count: 3 }],
    ]);
  });
});

import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { SessionWindows, SlidingWindows, StreamsApp, StreamsBuilder, TimeWindows, type Topology, type Windowed } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

interface Totals {
  clicks: number;
  spent: number;
}

/** KGroupedStream.cogroup: two streams into one aggregate on one store, restored from its changelog. */
describe('cogroup', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('cogroup');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
    for (const topic of ['clicks', 'orders', 'totals']) await log.ensureTopic(topic, { partitions: 2 });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const topology = (windowed = false): Topology => {
    const builder = new StreamsBuilder();
    if (windowed) {
      // CogroupedKStream.windowedBy over each kind of window, each its own output topic.
      const clicks = builder.stream<string, { n: number }>('clicks').groupByKey();
      const orders = builder.stream<string, { n: number }>('orders').groupByKey();
      const cogroup = () =>
        clicks.cogroup<Totals>((_k, _v, agg) => ({ clicks: agg.clicks + 1, spent: agg.spent })).cogroup(orders, (_k, v, agg) => ({ clicks: agg.clicks, spent: agg.spent + v.n }));
      const key = (w: Windowed<string>) => `${w.key}@${w.windowStart}/${w.windowEnd}`;
      const init = () => ({ clicks: 0, spent: 0 });
      cogroup().windowedBy(TimeWindows.ofSizeAndGrace(10_000, 60_000)).aggregate(init, { name: 'tumbling' }).toStream().selectKey(key).to('totals');
      cogroup().windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(5_000, 60_000)).aggregate(init, { name: 'sliding' }).toStream().selectKey(key).to('totals-sliding');
      cogroup()
        .windowedBy(SessionWindows.ofInactivityGapAndGrace(5_000, 60_000))
        .aggregate(init, (_k, a, b) => ({ clicks: a.clicks + b.clicks, spent: a.spent + b.spent }), { name: 'sessions' })
        .toStream()
        .selectKey(key)
        .to('totals-session');
      return builder.build();
    }
    const orders = builder.stream<string, { n: number }>('orders').groupByKey();
    builder
      .stream<string, { n: number }>('clicks')
      .groupByKey()
      .cogroup<Totals>((_k, _v, agg) => ({ clicks: agg.clicks + 1, spent: agg.spent }))
      .cogroup(orders, (_k, v, agg) => ({ clicks: agg.clicks, spent: agg.spent + v.n }))
      .aggregate(() => ({ clicks: 0, spent: 0 }), { name: 'totals-store' })
      .toStream()
      .to('totals');
    return builder.build();
  };

  async function runOnce(records: Array<{ topic: string; key: string; n: number; t?: number }>, windowed = false): Promise<void> {
    await log.produce(records.map((r, i) => ({ topic: r.topic, key: Buffer.from(r.key), value: json({ n: r.n }), timestamp: r.t ?? 1_000 + i })));
    const app = new StreamsApp(topology(windowed), log, { applicationId: 'cg', stateDir: `${dir}/state`, commitIntervalMs: 50 });
    await app.start();
    try {
      await waitForCaughtUp(app, log, 'cg', ['clicks', 'orders']);
    } finally {
      await app.close();
    }
    fs.rmSync(`${dir}/state`, { recursive: true, force: true });
  }

  const lastTotals = async (topic = 'totals') => {
    const last = new Map<string, Totals | null>();
    for (const r of await readAll(log, topic)) last.set(r.key!.toString(), r.value === null ? null : (JSON.parse(r.value.toString()) as Totals));
    return Object.fromEntries([...last].sort());
  };

  test('both streams update one aggregate per key, which carries on after a restart without local state', async () => {
    expect(topology().subtopologies()).toHaveLength(1);
    await runOnce([
      { topic: 'clicks', key: 'a', n: 0 },
      { topic: 'orders', key: 'a', n: 10 },
      { topic: 'clicks', key: 'b', n: 0 },
      { topic: 'orders', key: 'a', n: 5 },
    ]);
    expect(await lastTotals()).toEqual({ a: { clicks: 1, spent: 15 }, b: { clicks: 1, spent: 0 } });
    await runOnce([
      { topic: 'orders', key: 'b', n: 7 },
      { topic: 'clicks', key: 'a', n: 0 },
    ]);
    expect(await lastTotals()).toEqual({ a: { clicks: 2, spent: 15 }, b: { clicks: 1, spent: 7 } });
  });

  test('windowed (tumbling, sliding, session): both streams update one window aggregate, restored from the changelogs after local state is lost', async () => {
    for (const topic of ['totals-sliding', 'totals-session']) await log.ensureTopic(topic, { partitions: 2 });
    await runOnce(
      [
        { topic: 'clicks', key: 'a', n: 0, t: 1_000 },
        { topic: 'orders', key: 'a', n: 10, t: 3_000 },
        { topic: 'clicks', key: 'a', n: 0, t: 12_000 },
      ],
      true,
    );
    // Local state deleted by runOnce: every window below comes back from its store's changelog.
    await runOnce(
      [
        { topic: 'orders', key: 'a', n: 5, t: 4_000 },
        { topic: 'orders', key: 'a', n: 7, t: 13_000 },
      ],
      true,
    );
    expect(await lastTotals('totals')).toEqual({ 'a@0/10000': { clicks: 1, spent: 15 }, 'a@10000/20000': { clicks: 1, spent: 7 } });
    // Sliding (5 s): 4000's left window [-1000..4000] is [0, 5000] here (records before 5 s share it).
    expect((await lastTotals('totals-sliding'))['a@0/5000']).toEqual({ clicks: 1, spent: 15 });
    expect((await lastTotals('totals-sliding'))['a@8000/13000']).toEqual({ clicks: 1, spent: 7 });
    // Sessions (gap 5 s): 1000-4000 is one session, 12000-13000 another; the merged-away ones are tombstoned.
    const sessions = Object.fromEntries(Object.entries(await lastTotals('totals-session')).filter(([, v]) => v !== null));
    expect(sessions).toEqual({ 'a@1000/4000': { clicks: 1, spent: 15 }, 'a@12000/13000': { clicks: 1, spent: 7 } });
  });

  test('a grouped stream cannot join its own cogroup twice', () => {
    const grouped = new StreamsBuilder().stream<string, { n: number }>('clicks').groupByKey();
    const cogrouped = grouped.cogroup<number>((_k, _v, agg) => agg + 1);
    expect(() => cogrouped.cogroup(grouped, (_k, _v, agg) => agg)).toThrow(/already part of the cogroup/);
  });
});

import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { StreamsApp, StreamsBuilder, type Topology } from '../../topology/index.js';
import { readAll, tempDir, waitForCaughtUp } from '../support/streams.js';

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

  const topology = (): Topology => {
    const builder = new StreamsBuilder();
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

  async function runOnce(records: Array<{ topic: string; key: string; n: number }>): Promise<void> {
    await log.produce(records.map((r, i) => ({ topic: r.topic, key: Buffer.from(r.key), value: json({ n: r.n }), timestamp: 1_000 + i })));
    const app = new StreamsApp(topology(), log, { applicationId: 'cg', stateDir: `${dir}/state`, commitIntervalMs: 50 });
    await app.start();
    try {
      await waitForCaughtUp(app, log, 'cg', ['clicks', 'orders']);
    } finally {
      await app.close();
    }
    fs.rmSync(`${dir}/state`, { recursive: true, force: true });
  }

  const lastTotals = async () => {
    const last = new Map<string, Totals>();
    for (const r of await readAll(log, 'totals')) last.set(r.key!.toString(), JSON.parse(r.value!.toString()) as Totals);
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

  test('a grouped stream cannot join its own cogroup twice', () => {
    const grouped = new StreamsBuilder().stream<string, { n: number }>('clicks').groupByKey();
    const cogrouped = grouped.cogroup<number>((_k, _v, agg) => agg + 1);
    expect(() => cogrouped.cogroup(grouped, (_k, _v, agg) => agg)).toThrow(/already part of the cogroup/);
  });
});

import fs from 'node:fs';
import { Registry } from 'prom-client';
import { SlidingWindows, StreamsApp, StreamsBuilder, type TimestampedWindowStore, type Windowed } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { embeddedLogPerTest } from '../support/embedded-log-per-test.js';

/**
 * Sliding windows (Kafka Streams' SlidingWindows): a learner's answers within 10 s of each
 * other counted together. The windows and counts below follow KStreamSlidingWindowAggregate
 * by hand; test/conformance's sliding-* scenarios compare with Kafka Streams itself.
 */
describe('sliding windows', () => {
  const fresh = embeddedLogPerTest('sliding', ['answers', 'bursts']);

  const answer = (user: string, timestamp: number) => ({ topic: 'answers', key: Buffer.from(user), value: Buffer.from('{}'), timestamp });

  const topology = () => {
    const builder = new StreamsBuilder();
    builder
      .stream('answers')
      .groupByKey()
      .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10_000, 20_000))
      .count({ name: 'bursts' })
      .toStream()
      .map((windowed: Windowed<string>, count) => [windowed.key, `${windowed.windowStart}/${windowed.windowEnd}=${count}`])
      .to('bursts');
    return builder.build();
  };

  const windowsOf = (app: StreamsApp) =>
    app
      .localStores<TimestampedWindowStore<string, number>>('bursts')
      .flatMap((store) => store.fetchAllWithTimestamp(0, Number.MAX_SAFE_INTEGER))
      .map(({ key, value }) => `${key.key}@${key.windowStart}=${value.value}@${value.timestamp}`)
      .sort();

  async function run(records: ReturnType<typeof answer>[], registry = new Registry()): Promise<StreamsApp> {
    if (records.length > 0) await fresh.log.produce(records);
    const app = new StreamsApp(topology(), fresh.log, { applicationId: 'learn', stateDir: `${fresh.dir}/state`, registry });
    await app.start();
    await app.whenAssigned();
    await waitForCaughtUp(app, fresh.log, 'learn', ['answers']);
    return app;
  }

  async function lateCount(registry: Registry): Promise<number> {
    const metric = await registry.getSingleMetric('streamline_processor_events_total')!.get();
    return metric.values.filter((v) => v.labels.outcome === 'late').reduce((sum, v) => sum + v.value, 0);
  }

  const emitted = async () => (await readAll(fresh.log, 'bursts')).map((r) => `${r.value!.toString().replace(/"/g, '')}@${r.timestamp}`);

  const afterFirstRun = [
    'a@10000=1@20000',
    'a@12000=2@22000',
    'a@15000=3@25000',
    'a@20001=2@25000',
    'a@22001=1@25000',
    'a@30000=1@40000',
  ];

  test('left and right windows per record, out-of-order records update the windows they fall in, late ones are dropped', async () => {
    const registry = new Registry();
    const app = await run([answer('a', 20_000), answer('a', 25_000), answer('a', 40_000), answer('a', 22_000), answer('a', 5000)], registry);
    expect(await emitted()).toEqual([
      '10000/20000=1@20000',
      // 25000: the right window of 20000 (holding 25000 only), then 25000's left window (both).
      '20001/30001=1@25000',
      '15000/25000=2@25000',
      // 40000: nothing within 10 s before it.
      '30000/40000=1@40000',
      // 22000 (out of order): the windows containing it, its own left window, and its right window (25000).
      '20001/30001=2@25000',
      '15000/25000=3@25000',
      '12000/22000=2@22000',
      '22001/32001=1@25000',
    ]);
    // 5000's right window ends at 15000, before stream time 40000 - grace 20000.
    expect(await lateCount(registry)).toBe(1);
    expect(windowsOf(app)).toEqual(afterFirstRun);
    await app.close();
  });

  test('restores from its changelog: local state deleted, the windows come back and keep sliding', async () => {
    const first = await run([answer('a', 20_000), answer('a', 25_000), answer('a', 40_000), answer('a', 22_000)]);
    expect(windowsOf(first)).toEqual(afterFirstRun);
    await first.close();

    fs.rmSync(`${fresh.dir}/state`, { recursive: true, force: true });
    const restored = await run([]);
    expect(windowsOf(restored)).toEqual(afterFirstRun);
    await restored.close();

    fs.rmSync(`${fresh.dir}/state`, { recursive: true, force: true });
    const before = (await emitted()).length;
    // 31000 falls in the restored [22001, 32001] and [30000, 40000]; 25000 is its predecessor.
    const next = await run([answer('a', 31_000)]);
    expect((await emitted()).slice(before)).toEqual(['30000/40000=2@40000', '22001/32001=2@31000', '25001/35001=1@31000', '21000/31000=3@31000', '31001/41001=1@40000']);
    expect(windowsOf(next)).toEqual(
      [...afterFirstRun.filter((w) => !w.startsWith('a@30000') && !w.startsWith('a@22001')), 'a@30000=2@40000', 'a@22001=2@31000', 'a@25001=1@31000', 'a@21000=3@31000', 'a@31001=1@40000'].sort(),
    );
    await next.close();
  });
});

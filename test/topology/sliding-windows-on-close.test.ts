import fs from 'node:fs';
import { SlidingWindows, StreamsApp, StreamsBuilder, type Windowed } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { embeddedLogPerTest } from '../support/embedded-log-per-test.js';

/**
 * Sliding windows emitted on window close (KStreamSlidingWindowAggregate with
 * EmitStrategy.onWindowClose): each window once, final, when the aggregation's stream time passes
 * its end + grace. The expected windows follow Kafka Streams' cut-off by hand (closed windows
 * start in [last close time - d, close time - d - 1]); test/conformance's sliding-on-close
 * compares with Kafka Streams itself. Here: that a restart, with or without local state, neither
 * repeats a window nor loses one.
 */
describe('sliding windows emitted on close', () => {
  const fresh = embeddedLogPerTest('sliding-on-close', ['answers', 'bursts']);

  const answer = (user: string, timestamp: number) => ({ topic: 'answers', key: Buffer.from(user), value: Buffer.from('{}'), timestamp });

  const topology = () => {
    const builder = new StreamsBuilder();
    builder
      .stream('answers')
      .groupByKey()
      .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10_000, 5_000))
      .emit('onWindowClose')
      .count({ name: 'bursts' })
      .toStream()
      .map((windowed: Windowed<string>, count) => [windowed.key, `${windowed.windowStart}/${windowed.windowEnd}=${count}`])
      .to('bursts');
    return builder.build();
  };

  async function run(records: ReturnType<typeof answer>[]): Promise<void> {
    if (records.length > 0) await fresh.log.produce(records);
    const app = new StreamsApp(topology(), fresh.log, { applicationId: 'learn', stateDir: `${fresh.dir}/state` });
    await app.start();
    await app.whenAssigned();
    await waitForCaughtUp(app, fresh.log, 'learn', ['answers']);
    await app.close();
  }

  const emitted = async () => (await readAll(fresh.log, 'bursts')).map((r) => `${r.key!.toString()}:${r.value!.toString().replace(/"/g, '')}@${r.timestamp}`);

  // 20000: left window [10000, 20000]; 25000: 20000's right window [20001, 30001] and its own
  // left window [15000, 25000]; 40000: its left window [30000, 40000], and stream time 40000 -
  // grace 5000 closes every window ending before 35000.
  const closedBy40000 = ['a:10000/20000=1@20000', 'a:15000/25000=2@25000', 'a:20001/30001=1@25000'];

  test('no update is forwarded; closed windows once each, by window start, with their largest record timestamp', async () => {
    await run([answer('a', 20_000), answer('a', 25_000)]);
    // Stream time 25000 closes windows ending before 20000: none.
    expect(await emitted()).toEqual([]);
    await run([answer('a', 40_000), answer('b', 36_000)]);
    // b@36000 leaves stream time at 40000 (close time 35000, already emitted up to): nothing new.
    expect(await emitted()).toEqual(closedBy40000);
    await run([answer('a', 50_000)]);
    // Close time 45000: windows starting in [25000, 34999]: a's [30000, 40000] and b's [26000, 36000].
    expect(await emitted()).toEqual([...closedBy40000, 'b:26000/36000=1@36000', 'a:30000/40000=1@40000']);
  });

  test('after a restart from the changelog (local state deleted) no window is emitted twice or lost', async () => {
    await run([answer('a', 20_000), answer('a', 25_000), answer('a', 40_000)]);
    expect(await emitted()).toEqual(closedBy40000);

    fs.rmSync(`${fresh.dir}/state`, { recursive: true, force: true });
    // 41000 moves the close time to 36000: windows starting in [25000, 25999], none.
    await run([answer('a', 41_000)]);
    expect(await emitted()).toEqual(closedBy40000);

    fs.rmSync(`${fresh.dir}/state`, { recursive: true, force: true });
    await run([answer('a', 60_000)]);
    // Close time 55000: [30000, 40000]=1, 40000's right window [40001, 50001] (41000),
    // 41000's left window [31000, 41000]=2. Ordered by start.
    expect(await emitted()).toEqual([...closedBy40000, 'a:30000/40000=1@40000', 'a:31000/41000=2@41000', 'a:40001/50001=1@41000']);
  });
});

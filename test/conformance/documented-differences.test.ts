import fs from 'node:fs';
import { Registry } from 'prom-client';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { StreamsApp, StreamsBuilder, TimeWindows, type Windowed } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * The deliberate differences of docs/KAFKA-STREAMS.md that TopologyTestDriver cannot show,
 * asserted on our side. Kafka Streams restarts a windowed aggregation's stream time from the
 * first record after a restart; ours is the window store's, persisted, and it is the time of the
 * records reaching the aggregation, not the task's.
 */
describe('documented differences from Kafka Streams', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('documented-differences');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
    await log.ensureTopic('events', { partitions: 1 });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const event = (key: string, kind: 'keep' | 'drop', timestamp: number) => ({ topic: 'events', key: Buffer.from(key), value: Buffer.from(JSON.stringify({ kind })), timestamp });

  async function runOnce(stateDir: string, registry: Registry): Promise<void> {
    const builder = new StreamsBuilder();
    builder
      .stream<string, { kind: string }>('events')
      .filter((_key, value) => value.kind === 'keep')
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 10_000))
      .count({ name: 'kept-counts' })
      .toStream()
      .selectKey((w: Windowed<string>) => `${w.key}@${w.windowStart}`)
      .to('counts');
    const app = new StreamsApp(builder.build(), log, { applicationId: 'differences', stateDir, registry });
    await app.start();
    await waitForCaughtUp(app, log, 'differences', ['events']);
    await app.close();
  }

  const lateCount = async (registry: Registry) =>
    (await registry.getSingleMetric('streamline_processor_events_total')!.get()).values.filter((v) => v.labels.outcome === 'late').reduce((sum, v) => sum + v.value, 0);

  test("the aggregation's own stream time survives restarts, local and from the changelog", async () => {
    // b@75000 is filtered out: it does not move the aggregation's time (10000), so a@20000 after
    // a restart still counts in [0, 60000).
    await log.produce([event('a', 'keep', 10_000), event('b', 'drop', 75_000)]);
    await runOnce(`${dir}/state`, new Registry());
    await log.produce([event('a', 'keep', 20_000), event('a', 'keep', 100_000)]);
    const second = new Registry();
    await runOnce(`${dir}/state`, second);
    expect(await lateCount(second)).toBe(0);
    // The aggregation's time is now 100000: [0, 60000) closed at 70000. After a restart from an
    // empty state directory (restored from the changelog), a@30000 is still late; Kafka Streams
    // would start its time again at 30000 and count it.
    await log.produce([event('a', 'keep', 30_000)]);
    const third = new Registry();
    await runOnce(`${dir}/state-restored`, third);
    expect(await lateCount(third)).toBe(1);
    const counts = (await readAll(log, 'counts')).map((r) => `${r.key!.toString()}=${r.value!.toString()}@${r.timestamp}`);
    expect(counts).toEqual(['a@0=1@10000', 'a@0=2@20000', 'a@60000=1@100000']);
  });
});

import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { jsonSerde } from '../../state/Serde.js';
import { NO_TIMESTAMP, valueAndTimestampSerde } from '../../topology/dsl/TimestampedStores.js';
import { StreamsApp, StreamsBuilder, TimeWindows, type Windowed } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * Aggregates carry the largest timestamp of their records (issue 19 part 2), kept beside the
 * aggregate in the store: it must survive a restore from the changelog, and a store written
 * before aggregates carried timestamps must stay readable.
 */
describe('aggregate timestamps in stores', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('agg-timestamps');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
    await log.ensureTopic('clicks', { partitions: 1 });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const click = (key: string, timestamp: number) => ({ topic: 'clicks', key: Buffer.from(key), value: Buffer.from('{}'), timestamp });

  function topology() {
    const builder = new StreamsBuilder();
    const grouped = builder.stream('clicks').groupByKey();
    grouped.count({ name: 'click-totals' }).toStream().to('totals');
    grouped
      .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 600_000))
      .count({ name: 'click-windows' })
      .toStream()
      .selectKey((w: Windowed<string>) => `${w.key}@${w.windowStart}`)
      .to('windows');
    return builder.build();
  }

  async function runOnce(stateDir: string): Promise<void> {
    const app = new StreamsApp(topology(), log, { applicationId: 'agg-ts', stateDir });
    await app.start();
    await waitForCaughtUp(app, log, 'agg-ts', ['clicks']);
    await app.close();
  }

  const last = async (topic: string) => {
    const records = await readAll(log, topic);
    const record = records[records.length - 1]!;
    return { key: record.key!.toString(), value: JSON.parse(record.value!.toString()) as number, timestamp: record.timestamp };
  };

  test('the serde reads a plain value written before timestamps as NO_TIMESTAMP, and round-trips its own', () => {
    const serde = valueAndTimestampSerde(jsonSerde<{ n: number }>());
    expect(serde.deserialize(Buffer.from('{"n":3}'))).toEqual({ value: { n: 3 }, timestamp: NO_TIMESTAMP });
    expect(serde.deserialize(serde.serialize({ value: { n: 4 }, timestamp: 1_733_000_000_123 }))).toEqual({ value: { n: 4 }, timestamp: 1_733_000_000_123 });
  });

  test('an update after a restore from the changelog carries the largest timestamp from before the restore', async () => {
    await log.produce([click('a', 10_000), click('a', 5_000)]);
    await runOnce(`${dir}/state-1`);
    expect(await last('totals')).toEqual({ key: 'a', value: 2, timestamp: 10_000 });
    // A new state directory: both stores are rebuilt from their changelogs.
    await log.produce([click('a', 3_000)]);
    await runOnce(`${dir}/state-2`);
    expect(await last('totals')).toEqual({ key: 'a', value: 3, timestamp: 10_000 });
    expect(await last('windows')).toEqual({ key: 'a@0', value: 3, timestamp: 10_000 });
  });

  test('a changelog written in the old format (plain JSON) restores, and the next update takes its record time', async () => {
    const changelog = 'agg-ts-click-totals-changelog';
    await log.ensureTopic(changelog, { partitions: 1, cleanupPolicy: 'compact' });
    await log.produce([{ topic: changelog, key: Buffer.from('a'), value: Buffer.from('5'), timestamp: 1 }]);
    await log.produce([click('a', 2_000)]);
    await runOnce(`${dir}/state`);
    expect(await last('totals')).toEqual({ key: 'a', value: 6, timestamp: 2_000 });
  });
});

import fs from 'node:fs';
import { Registry } from 'prom-client';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import type { WindowStore } from '../../state/StateStore.js';
import { StreamsApp, StreamsBuilder, TimeWindows, type Windowed } from '../../topology/index.js';
import { jsonValues, readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

describe('windowed aggregation', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('windows');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
    await log.ensureTopic('views', { partitions: 2 });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const view = (key: string, timestamp: number) => ({ topic: 'views', key: Buffer.from(key), value: Buffer.from('{}'), timestamp });

  async function lateCount(registry: Registry): Promise<number> {
    const metric = await registry.getSingleMetric('streamline_processor_events_total')!.get();
    return metric.values.filter((v) => v.labels.outcome === 'late').reduce((sum, v) => sum + v.value, 0);
  }

  test('counts out-of-order records inside grace and drops (and counts) records past grace', async () => {
    // Tumbling 1 s windows with 500 ms grace. For key a: 1800 arrives after 2100 but its window
    // [1000, 2000) is open until stream time 2500; 1900 arrives after stream time 2700: late.
    await log.produce([view('b', 1200), view('a', 1000), view('a', 1500), view('a', 2100), view('a', 1800), view('a', 2700), view('a', 1900)]);
    const builder = new StreamsBuilder();
    builder
      .stream('views')
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeAndGrace(1000, 500))
      .count({ name: 'view-counts', retentionMs: 60_000 })
      .toStream()
      .map((windowed: Windowed<string>, count: number) => [windowed.key, { start: windowed.windowStart, count }])
      .to('view-counts-out');
    const registry = new Registry();
    const app = new StreamsApp(builder.build(), log, { applicationId: 'windows', stateDir: `${dir}/state`, registry });
    await app.start();
    await waitForCaughtUp(app, log, 'windows', ['views']);

    const stores = app.localStores<WindowStore<string, number>>('view-counts');
    const windowsOf = (key: string) => stores.flatMap((store) => store.fetchRange(key, 0, 10_000)).map((kv) => [kv.key.windowStart, kv.value]);
    expect(windowsOf('a')).toEqual([[1000, 3], [2000, 2]]);
    expect(windowsOf('b')).toEqual([[1000, 1]]);
    expect(await lateCount(registry)).toBe(1);
    // Emit on update: one output per accepted record, the last per window being the final count.
    const updates = jsonValues<{ start: number; count: number }>((await readAll(log, 'view-counts-out')).filter((r) => r.key!.toString() === 'a'));
    expect(updates.map((u) => `${u.start}:${u.count}`)).toEqual(['1000:1', '1000:2', '2000:1', '1000:3', '2000:2']);
    await app.close();
  });

  test('stream time survives a restart: a record late before the restart is late after it', async () => {
    await log.ensureTopic('views', { partitions: 2 });
    const topology = () => {
      const builder = new StreamsBuilder();
      builder.stream('views').groupByKey().windowedBy(TimeWindows.ofSizeAndGrace(1000, 0)).count({ name: 'restart-counts', retentionMs: 60_000 });
      return builder.build();
    };
    await log.produce([view('k', 1000), view('k', 5000)]);
    const first = new StreamsApp(topology(), log, { applicationId: 'restart-time', stateDir: `${dir}/state` });
    await first.start();
    await waitForCaughtUp(first, log, 'restart-time', ['views']);
    await first.close();

    // Window [1000, 2000) closed at stream time 2000; the task's stream time is 5000.
    await log.produce([view('k', 1500)]);
    const registry = new Registry();
    const second = new StreamsApp(topology(), log, { applicationId: 'restart-time', stateDir: `${dir}/state`, registry });
    await second.start();
    await waitForCaughtUp(second, log, 'restart-time', ['views']);
    const windows = second.localStores<WindowStore<string, number>>('restart-counts').flatMap((s) => s.fetchRange('k', 0, 10_000)).map((kv) => [kv.key.windowStart, kv.value]);
    expect(windows).toEqual([[1000, 1], [5000, 1]]);
    expect(await lateCount(registry)).toBe(1);
    await second.close();
  });

  test('hopping windows put a record in every window that contains it', async () => {
    await log.produce([view('k', 1000), view('k', 1600), view('k', 2200)]);
    const builder = new StreamsBuilder();
    builder.stream('views').groupByKey().windowedBy(TimeWindows.ofSizeAndGrace(1000, 10_000).advanceBy(500)).count({ name: 'hop-counts' });
    const app = new StreamsApp(builder.build(), log, { applicationId: 'hopping', stateDir: `${dir}/state` });
    await app.start();
    await waitForCaughtUp(app, log, 'hopping', ['views']);
    const windows = app.localStores<WindowStore<string, number>>('hop-counts').flatMap((s) => s.fetchRange('k', 0, 10_000)).map((kv) => [kv.key.windowStart, kv.value]);
    // 1000 ∈ [500,1500) [1000,2000); 1600 ∈ [1000,2000) [1500,2500); 2200 ∈ [1500,2500) [2000,3000)
    expect(windows).toEqual([[500, 1], [1000, 2], [1500, 2], [2000, 1]]);
    await app.close();
  });

  test('emit on window close forwards each window once, with its final count, when stream time passes end + grace', async () => {
    await log.ensureTopic('clicks', { partitions: 1 });
    const click = (key: string, timestamp: number) => ({ topic: 'clicks', key: Buffer.from(key), value: Buffer.from('{}'), timestamp });
    await log.produce([click('a', 100), click('a', 900), click('b', 950), click('a', 1100), click('a', 1250), click('a', 2300), click('a', 2400)]);
    const builder = new StreamsBuilder();
    builder
      .stream('clicks')
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeAndGrace(1000, 200))
      .emit('onWindowClose')
      .count({ name: 'final-counts' })
      .toStream()
      .map((windowed: Windowed<string>, count: number) => [windowed.key, `${windowed.windowStart}:${count}`])
      .to('final-counts-out');
    const app = new StreamsApp(builder.build(), log, { applicationId: 'on-close', stateDir: `${dir}/state` });
    await app.start();
    await waitForCaughtUp(app, log, 'on-close', ['clicks']);
    await app.close();
    const emitted = (await readAll(log, 'final-counts-out')).map((r) => `${r.key}@${JSON.parse(r.value!.toString())}`);
    // [0,1000) closes at 1200 (emitted when 1250 arrives); [1000,2000) closes at 2200 (2300 arrives); [2000,3000) stays open.
    expect(emitted.sort()).toEqual(['a@0:2', 'a@1000:2', 'b@0:1']);
  });
});

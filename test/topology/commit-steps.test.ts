import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import type { Log } from '../../log/Log.js';
import type { KeyValueStore } from '../../state/StateStore.js';
import { StreamsApp, StreamsBuilder } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

interface Visit {
  region: string;
  n: number;
}

/**
 * TaskCommitter's steps after the tasks are drained: a failure in any of them (here creating a
 * topic that a TopicNameExtractor names for the first time, before the transaction begins) must
 * leave the tasks to be rebuilt from the last commit, or the drained records are gone while the
 * next commit still commits their input offsets.
 */
describe('a commit that fails before its transaction begins', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('commit-steps');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('creating a routed-to topic fails once: the records reach it once, the counts are not doubled', async () => {
    await log.ensureTopic('visits', { partitions: 2 });
    let creationsToFail = 1;
    const failingOnce: Log = Object.assign(Object.create(log) as Log, {
      ensureTopic: async (topic: string, options: { partitions: number }) => {
        if (topic === 'region-b' && creationsToFail > 0) {
          creationsToFail--;
          throw new Error('injected: creating region-b failed');
        }
        return log.ensureTopic(topic, options);
      },
    });
    const builder = new StreamsBuilder();
    const visits = builder.stream<string, Visit>('visits');
    visits.to((record) => `region-${record.value.region}`);
    visits.groupByKey().count({ name: 'visits-per-user' });
    const app = new StreamsApp(builder.build(), failingOnce, { applicationId: 'steps', stateDir: `${dir}/state`, commitIntervalMs: 10 });
    await app.start();
    const visit = (n: number, region: string) => ({ topic: 'visits', key: Buffer.from(`user-${n % 6}`), value: Buffer.from(JSON.stringify({ region, n })) });
    try {
      await log.produce(Array.from({ length: 50 }, (_, n) => visit(n, 'a')));
      await waitForCaughtUp(app, log, 'steps', ['visits']);
      await log.produce(Array.from({ length: 50 }, (_, n) => visit(50 + n, 'b')));
      await waitForCaughtUp(app, log, 'steps', ['visits']);

      expect(creationsToFail).toBe(0);
      expect(app.state).toBe('RUNNING');
      expect((await app.metrics.commits.get()).values.find((v) => v.labels.result === 'failed')?.value).toBe(1);
      const routed = (topic: string) => readAll(log, topic).then((records) => records.map((r) => (JSON.parse(r.value!.toString()) as Visit).n).sort((x, y) => x - y));
      expect(await routed('region-a')).toEqual(Array.from({ length: 50 }, (_, n) => n));
      expect(await routed('region-b')).toEqual(Array.from({ length: 50 }, (_, n) => 50 + n));
      let counted = 0;
      for (const store of app.localStores<KeyValueStore<string, number>>('visits-per-user')) for (const { value } of store.all()) counted += value;
      expect(counted).toBe(100);
    } finally {
      await app.close();
    }
  });
});

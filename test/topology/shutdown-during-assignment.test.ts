/**
 * A stream thread asked to shut down while its first assignment is being set up stops setting up
 * tasks: each one opens and restores its stores, the shutdown waits for the poll the assignment
 * runs in, and the default pipeline's 24 tasks took 7-8 s on a loaded 2-core machine, past the
 * worker's 10 s stop bound under more load (admin-door and sasl-ssl failed there). The tasks made
 * are closed as usual, and a later start takes every partition.
 */
import { StreamsApp, StreamsBuilder } from '../../topology/index.js';
import { embeddedLogPerTest } from '../support/embedded-log-per-test.js';
import { jsonValues, readAll, waitForCaughtUp } from '../support/streams.js';

const PARTITIONS = 8;

describe('shutdown during the first assignment', () => {
  const fresh = embeddedLogPerTest('shutdown-assign', []);

  const countsApp = () => {
    const builder = new StreamsBuilder();
    builder
      .stream<string, { n: number }>('taps')
      .groupByKey()
      .count({ name: 'tap-counts' })
      .toStream()
      .to('tap-counts-out');
    return new StreamsApp(builder.build(), fresh.log, { applicationId: 'shutdown-assign', stateDir: `${fresh.dir}/state`, commitIntervalMs: 50 });
  };

  test('sets up no task after the shutdown began, closes the ones it made, and a restart takes all partitions', async () => {
    await fresh.log.ensureTopic('taps', { partitions: PARTITIONS });
    await fresh.log.ensureTopic('tap-counts-out', { partitions: PARTITIONS });
    const first = countsApp();
    const restoredTasks = new Set<string>();
    first.on('restoring', ({ task }: { task: string }) => restoredTasks.add(task));
    // Asked to stop as its first task's stores restore.
    const closed = new Promise<void>((resolve, reject) => first.once('restoring', () => void first.close().then(resolve, reject)));
    await first.start();
    await closed;
    expect(first.state).toBe('NOT_RUNNING');
    expect(restoredTasks.size).toBe(1);

    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    await fresh.log.produce(keys.map((key) => ({ topic: 'taps', key: Buffer.from(key), value: Buffer.from(JSON.stringify({ n: 1 })) })));
    const second = countsApp();
    await second.start();
    try {
      await waitForCaughtUp(second, fresh.log, 'shutdown-assign', ['taps']);
      expect(second.taskIds()).toHaveLength(PARTITIONS);
      expect(jsonValues<number>(await readAll(fresh.log, 'tap-counts-out'))).toEqual(keys.map(() => 1));
    } finally {
      await second.close();
    }
  });
});

/**
 * An assignment sets up its tasks side by side (TASK_SETUP_CONCURRENCY at a time; one after another
 * the default pipeline's 20 tasks took ~2 s of a fresh start), keeps the ones set up before a
 * failure, and the app says it is processing only once the first assignment's tasks are set up
 * (GET /ready's topology check asks StreamsApp.processing).
 */
import { jsonSerde, stringSerde } from '../../state/Serde.js';
import type { KeyValueStore } from '../../state/StateStore.js';
import type { RuntimeStore, StoreBuilder } from '../../state/StoreBuilder.js';
import { TASK_SETUP_CONCURRENCY } from '../../topology/runtime/TaskSetup.js';
import { fixedKeyRecord, keyValueStoreBuilder, StreamsApp, StreamsBuilder, type FixedKeyProcessor, type FixedKeyProcessorContext, type FixedKeyRecord } from '../../topology/index.js';
import { embeddedLogPerTest } from '../support/embedded-log-per-test.js';
import { jsonValues, readAll, waitForCaughtUp } from '../support/streams.js';

const PARTITIONS = 8;
const STORE = 'tap-counts';

class Counting implements FixedKeyProcessor<string, { n: number }, number> {
  private context!: FixedKeyProcessorContext<string, number>;
  private counts!: KeyValueStore<string, number>;

  init(context: FixedKeyProcessorContext<string, number>): void {
    this.context = context;
    this.counts = context.getStateStore(STORE);
  }

  process(record: FixedKeyRecord<string, { n: number }>): void {
    const count = (this.counts.get(record.key) ?? 0) + record.value.n;
    this.counts.put(record.key, count);
    this.context.forward(fixedKeyRecord(record, count));
  }
}

/** The store of each task, its open() first awaiting beforeOpen(the task directory). */
function observedStore(beforeOpen: (dir: string) => Promise<void>): StoreBuilder {
  const inner = keyValueStoreBuilder(STORE, stringSerde, jsonSerde<number>());
  return {
    name: inner.name,
    changelogCleanupPolicy: inner.changelogCleanupPolicy,
    build(applicationId: string): RuntimeStore {
      const store = inner.build(applicationId) as RuntimeStore;
      const open = store.open.bind(store);
      store.open = async (dir: string) => {
        await beforeOpen(dir);
        return open(dir);
      };
      return store;
    },
  };
}

describe('setting up an assignment’s tasks', () => {
  const fresh = embeddedLogPerTest('task-setup', []);

  const countsApp = (stateDir: string, beforeOpen: (dir: string) => Promise<void>) => {
    const builder = new StreamsBuilder();
    builder.addStateStore(observedStore(beforeOpen));
    builder
      .stream<string, { n: number }>('taps')
      .processValues(() => new Counting(), { name: 'counting', stores: [STORE] })
      .to('tap-counts-out');
    return new StreamsApp(builder.build(), fresh.log, { applicationId: 'task-setup', stateDir, commitIntervalMs: 50 });
  };

  const produceTaps = async (keys: string[]) => {
    await fresh.log.produce(keys.map((key) => ({ topic: 'taps', key: Buffer.from(key), value: Buffer.from(JSON.stringify({ n: 1 })) })));
  };

  beforeEach(async () => {
    await fresh.log.ensureTopic('taps', { partitions: PARTITIONS });
    await fresh.log.ensureTopic('tap-counts-out', { partitions: PARTITIONS });
  });

  test('opens several tasks at once, and is not processing until all are set up', async () => {
    let opening = 0;
    let mostAtOnce = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // Sequential set-up never reaches TASK_SETUP_CONCURRENCY opens at once: the bound keeps that
    // case a failed assertion instead of a hung test.
    const bound = setTimeout(release, 5_000);
    const app = countsApp(`${fresh.dir}/state`, async () => {
      opening++;
      mostAtOnce = Math.max(mostAtOnce, opening);
      if (opening === TASK_SETUP_CONCURRENCY) release();
      await gate;
      opening--;
    });
    const assigned = app.whenAssigned();
    await app.start();
    try {
      expect(app.state).toBe('RUNNING');
      expect(app.processing).toBe(false);
      await assigned;
      clearTimeout(bound);
      expect(mostAtOnce).toBe(TASK_SETUP_CONCURRENCY);
      expect(app.taskIds()).toHaveLength(PARTITIONS);
      const keys = Array.from({ length: 24 }, (_, i) => `k${i}`);
      await produceTaps(keys);
      await waitForCaughtUp(app, fresh.log, 'task-setup', ['taps']);
      expect(app.processing).toBe(true);
      expect(jsonValues<number>(await readAll(fresh.log, 'tap-counts-out'))).toEqual(keys.map(() => 1));
    } finally {
      clearTimeout(bound);
      await app.close();
    }
  });

  test('a task that fails to set up is retried alone: the tasks set up beside it are kept', async () => {
    const opensByTask = new Map<string, number>();
    let failed = false;
    const app = countsApp(`${fresh.dir}/state`, async (dir) => {
      const task = dir.slice(dir.lastIndexOf('/') + 1);
      opensByTask.set(task, (opensByTask.get(task) ?? 0) + 1);
      if (task === '0_2' && !failed) {
        failed = true;
        throw new Error('disk unavailable for a moment');
      }
    });
    await app.start();
    try {
      await app.whenAssigned();
      expect(failed).toBe(true);
      expect(app.taskIds()).toHaveLength(PARTITIONS);
      expect(opensByTask.get('0_2')).toBe(2);
      for (const [task, opens] of opensByTask) if (task !== '0_2') expect([task, opens]).toEqual([task, 1]);
      expect(opensByTask.size).toBe(PARTITIONS);
      const keys = Array.from({ length: 16 }, (_, i) => `k${i}`);
      await produceTaps(keys);
      await waitForCaughtUp(app, fresh.log, 'task-setup', ['taps']);
      expect(jsonValues<number>(await readAll(fresh.log, 'tap-counts-out'))).toEqual(keys.map(() => 1));
    } finally {
      await app.close();
    }
  });
});

import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import type { Log, Transaction, TransactionalProducer } from '../../log/Log.js';
import type { KeyValueStore } from '../../state/StateStore.js';
import { StreamsApp, StreamsBuilder, type Processor, type ProcessorContext, type StreamRecord } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

/** The real embedded log, with a switch that makes the next N transaction commits fail before writing. */
function withFailingCommits(log: EmbeddedLog): Log & { failNextCommits(n: number): void } {
  let failures = 0;
  const wrapTransaction = (transaction: Transaction): Transaction => ({
    produce: (records) => transaction.produce(records),
    sendOffsets: (consumer, offsets) => transaction.sendOffsets(consumer, offsets),
    abort: () => transaction.abort(),
    commit: async () => {
      if (failures > 0) {
        failures--;
        throw new Error('injected commit failure');
      }
      return transaction.commit();
    },
  });
  return Object.assign(Object.create(log) as Log, {
    createTransactionalProducer: async (id: string): Promise<TransactionalProducer> => {
      const producer = await log.createTransactionalProducer(id);
      return { transactionalId: producer.transactionalId, begin: async () => wrapTransaction(await producer.begin()), close: () => producer.close() };
    },
    failNextCommits: (n: number) => {
      failures = n;
    },
  });
}

describe('a failed commit', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('commit-failure');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('rebuilds the tasks from the last commit and goes on, with nothing lost or doubled', async () => {
    await log.ensureTopic('deposits', { partitions: 2 });
    const faulty = withFailingCommits(log);
    const builder = new StreamsBuilder();
    builder
      .stream<string, { amount: number }>('deposits')
      .groupByKey()
      .aggregate(() => 0, (_key, deposit, total) => total + deposit.amount, { name: 'balances' })
      .toStream()
      .to('balances-out');
    const app = new StreamsApp(builder.build(), faulty, { applicationId: 'bank', stateDir: `${dir}/state`, commitIntervalMs: 10 });
    await app.start();
    const deposit = (n: number) => ({ topic: 'deposits', key: Buffer.from(`acct-${n % 5}`), value: Buffer.from(JSON.stringify({ amount: n })) });
    await log.produce(Array.from({ length: 100 }, (_, n) => deposit(n)));
    await waitForCaughtUp(app, log, 'bank', ['deposits']);

    faulty.failNextCommits(3);
    await log.produce(Array.from({ length: 100 }, (_, n) => deposit(100 + n)));
    await waitForCaughtUp(app, log, 'bank', ['deposits']);
    expect(app.state).toBe('RUNNING');
    const failed = (await app.metrics.commits.get()).values.find((v) => v.labels.result === 'failed')?.value;
    expect(failed).toBe(3);

    const balances = new Map<string, number>();
    for (const store of app.localStores<KeyValueStore<string, number>>('balances')) for (const { key, value } of store.all()) balances.set(key, value);
    const expected = new Map<string, number>();
    for (let n = 0; n < 200; n++) expected.set(`acct-${n % 5}`, (expected.get(`acct-${n % 5}`) ?? 0) + n);
    expect(balances).toEqual(expected);
    expect(await readAll(log, 'balances-out')).toHaveLength(200);
    // The records of the three aborted commits were processed again: counted once, with the commit that took them.
    const processed = (await app.metrics.processed.get()).values.reduce((total, v) => total + v.value, 0);
    expect(processed).toBe(200);
    await app.close();
  });

  test('a beforeCommit that throws while the tasks are drained rebuilds them too: no task commits its offsets without the outputs drained before the throw', async () => {
    await log.ensureTopic('orders', { partitions: 2 });
    let failOnPartition: number | undefined;
    /** Holds its records until the commit (as PreAggregator holds partials); throws once there when told to. */
    class HoldUntilCommit implements Processor<string, number, string, number> {
      private context!: ProcessorContext<string, number>;
      private held: Array<StreamRecord<string, number>> = [];
      init(context: ProcessorContext<string, number>): void {
        this.context = context;
      }
      process(record: StreamRecord<string, number>): void {
        this.held.push(record);
      }
      beforeCommit(): void {
        if (failOnPartition === this.context.partition) {
          failOnPartition = undefined;
          throw new Error('injected beforeCommit failure');
        }
        for (const record of this.held) this.context.forward(record);
        this.held = [];
      }
    }
    const builder = new StreamsBuilder();
    builder.stream<string, number>('orders').process(() => new HoldUntilCommit()).to('orders-out');
    const order = (n: number, partition: number) => ({ topic: 'orders', partition, key: Buffer.from(`o${n}`), value: Buffer.from(JSON.stringify(n)) });
    // In the log before the start: the first poll gives both tasks work, so at the first commit
    // the task of partition 0 is drained before the one of partition 1 throws.
    await log.produce(Array.from({ length: 40 }, (_, n) => order(n, n % 2)));
    failOnPartition = 1;
    const app = new StreamsApp(builder.build(), log, { applicationId: 'hold', stateDir: `${dir}/state`, commitIntervalMs: 100 });
    await app.start();
    await waitForCaughtUp(app, log, 'hold', ['orders']);
    expect(failOnPartition).toBeUndefined();
    const values = (await readAll(log, 'orders-out')).map((record) => JSON.parse(record.value!.toString()) as number);
    expect(values.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, n) => n));
    await app.close();
  });
});

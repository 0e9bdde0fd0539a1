import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import type { Log, Transaction, TransactionalProducer } from '../../log/Log.js';
import type { KeyValueStore } from '../../state/StateStore.js';
import { StreamsApp, StreamsBuilder } from '../../topology/index.js';
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
    await app.close();
  });
});

import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import type { KeyValueStore } from '../../state/StateStore.js';
import { StreamsApp, StreamsBuilder, type FixedKeyProcessor, type FixedKeyProcessorContext, type Processor, type ProcessorContext } from '../../topology/index.js';
import { jsonValues, readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('stores, restore and joins', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('restore');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function totalsTopology() {
    const builder = new StreamsBuilder();
    builder
      .stream<string, { amount: number }>('payments')
      .groupByKey()
      .aggregate(() => 0, (_key, payment, total) => total + payment.amount, { name: 'totals' })
      .toStream()
      .to('totals-out');
    return builder.build();
  }

  const payments = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => ({ topic: 'payments', key: Buffer.from(`acct-${(from + i) % 13}`), value: json({ amount: from + i }) }));

  function expectedTotals(upTo: number): Map<string, number> {
    const totals = new Map<string, number>();
    for (let n = 0; n < upTo; n++) totals.set(`acct-${n % 13}`, (totals.get(`acct-${n % 13}`) ?? 0) + n);
    return totals;
  }

  function storeContents(app: StreamsApp): Map<string, number> {
    const contents = new Map<string, number>();
    for (const store of app.localStores<KeyValueStore<string, number>>('totals')) for (const { key, value } of store.all()) contents.set(key, value);
    return contents;
  }

  test('a store whose directory was deleted is rebuilt from its changelog and keeps counting', async () => {
    await log.ensureTopic('payments', { partitions: 4 });
    await log.produce(payments(0, 500));
    const first = new StreamsApp(totalsTopology(), log, { applicationId: 'totals', stateDir: `${dir}/state` });
    await first.start();
    await waitForCaughtUp(first, log, 'totals', ['payments']);
    expect(storeContents(first)).toEqual(expectedTotals(500));
    // The lag gauge is refreshed from the processing loop, at most once a second
    // (ConsumerLagMonitor): a refresh in flight when the last commit landed reads the lag before
    // it, so the gauge reaches 0 by the next refresh, not at the commit.
    const paymentsLag = async () => (await first.metrics.lag.get()).values.filter((v) => v.labels.topic === 'payments');
    const deadline = Date.now() + 10_000;
    while ((await paymentsLag()).some((v) => v.value !== 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const lag = await paymentsLag();
    expect(lag.map((v) => v.labels.partition).sort()).toEqual(['0', '1', '2', '3']);
    expect(lag.every((v) => v.value === 0)).toBe(true);
    await first.close();

    fs.rmSync(`${dir}/state`, { recursive: true, force: true });
    await log.produce(payments(500, 800));
    const second = new StreamsApp(totalsTopology(), log, { applicationId: 'totals', stateDir: `${dir}/state` });
    await second.start();
    await second.whenAssigned();
    const restoredBeforeProcessing = (await second.metrics.restoredRecords.get()).values.reduce((sum, v) => sum + v.value, 0);
    expect(restoredBeforeProcessing).toBeGreaterThanOrEqual(13);
    await waitForCaughtUp(second, log, 'totals', ['payments']);
    expect(storeContents(second)).toEqual(expectedTotals(800));
    await second.close();

    // Every update was emitted exactly once: the last output per key is the final total.
    const outputs = await readAll(log, 'totals-out');
    expect(outputs).toHaveLength(800);
    const last = new Map<string, number>();
    for (const record of outputs) last.set(record.key!.toString(), JSON.parse(record.value!.toString()));
    expect(last).toEqual(expectedTotals(800));
  });

  test('a restart with its local state restores only from the checkpoint', async () => {
    await log.ensureTopic('payments', { partitions: 2 });
    await log.produce(payments(0, 200));
    const first = new StreamsApp(totalsTopology(), log, { applicationId: 'totals', stateDir: `${dir}/state` });
    await first.start();
    await waitForCaughtUp(first, log, 'totals', ['payments']);
    await first.close();
    const second = new StreamsApp(totalsTopology(), log, { applicationId: 'totals', stateDir: `${dir}/state` });
    await second.start();
    await second.whenAssigned();
    const restored = (await second.metrics.restoredRecords.get()).values.reduce((sum, v) => sum + v.value, 0);
    expect(restored).toBe(0);
    expect(storeContents(second)).toEqual(expectedTotals(200));
    await second.close();
  });

  test('stream–table join (co-partitioned) and stream–global-table join, with misses passing unenriched', async () => {
    await log.ensureTopic('attempts', { partitions: 3 });
    await log.ensureTopic('users', { partitions: 3, cleanupPolicy: 'compact' });
    await log.ensureTopic('items', { partitions: 1, cleanupPolicy: 'compact' });
    await log.produce([
      { topic: 'users', key: Buffer.from('u1'), value: json({ plan: 'free' }) },
      { topic: 'users', key: Buffer.from('u2'), value: json({ plan: 'premium' }) },
      { topic: 'users', key: Buffer.from('u1'), value: json({ plan: 'premium' }) },
      { topic: 'items', key: Buffer.from('i1'), value: json({ difficulty: 0.7 }) },
    ]);
    const builder = new StreamsBuilder();
    const users = builder.table<string, { plan: string }>('users', { storeName: 'users-table' });
    const items = builder.globalTable<string, { difficulty: number }>('items', { storeName: 'items-global' });
    builder
      .stream<string, { item: string; n: number }>('attempts')
      .leftJoin(users, (attempt, user) => ({ ...attempt, plan: user?.plan ?? null }))
      .leftJoinGlobal(items, (_key, attempt) => attempt.item, (attempt, item) => ({ ...attempt, difficulty: item?.difficulty ?? null }))
      .to('enriched');
    const app = new StreamsApp(builder.build(), log, { applicationId: 'enrich', stateDir: `${dir}/state` });
    await app.start();
    // The table must hold the users before attempts arrive: the join reads the table as of the attempt's time.
    await waitForCaughtUp(app, log, 'enrich', ['users']);
    await log.produce([
      { topic: 'attempts', key: Buffer.from('u1'), value: json({ item: 'i1', n: 1 }), timestamp: Date.now() + 1000 },
      { topic: 'attempts', key: Buffer.from('u2'), value: json({ item: 'i9', n: 2 }), timestamp: Date.now() + 1000 },
      { topic: 'attempts', key: Buffer.from('u3'), value: json({ item: 'i1', n: 3 }), timestamp: Date.now() + 1000 },
    ]);
    await waitForCaughtUp(app, log, 'enrich', ['attempts', 'users']);
    await app.close();
    const enriched = jsonValues<{ n: number; plan: string | null; difficulty: number | null }>(await readAll(log, 'enriched')).sort((a, b) => a.n - b.n);
    expect(enriched).toEqual([
      { item: 'i1', n: 1, plan: 'premium', difficulty: 0.7 },
      { item: 'i9', n: 2, plan: 'premium', difficulty: null },
      { item: 'i1', n: 3, plan: null, difficulty: 0.7 },
    ]);
    const misses = (await app.metrics.outcomes.get()).values.filter((v) => v.labels.outcome === 'join_miss').reduce((sum, v) => sum + v.value, 0);
    expect(misses).toBe(2);
  });

  test('groupBy re-keys through a repartition topic and counts per new key', async () => {
    await log.ensureTopic('events', { partitions: 3 });
    await log.produce(Array.from({ length: 90 }, (_, n) => ({ topic: 'events', key: Buffer.from(`user-${n}`), value: json({ country: ['DE', 'FR', 'US'][n % 3], n }) })));
    const builder = new StreamsBuilder();
    builder
      .stream<string, { country: string }>('events')
      .groupBy((_key, event) => event.country)
      .count({ name: 'per-country' });
    const app = new StreamsApp(builder.build(), log, { applicationId: 'countries', stateDir: `${dir}/state` });
    await app.start();
    expect(await log.listTopics()).toContain('countries-KSTREAM-REPARTITION-0000000002-repartition');
    await waitForCaughtUp(app, log, 'countries', ['events', 'countries-KSTREAM-REPARTITION-0000000002-repartition']);
    const counts = new Map<string, number>();
    for (const store of app.localStores<KeyValueStore<string, number>>('per-country')) for (const { key, value } of store.all()) counts.set(key, value);
    expect(counts).toEqual(new Map([['DE', 30], ['FR', 30], ['US', 30]]));
    expect(app.describe()).toMatch(/Sub-topology: 1/);
    await app.close();
  });

  test('process() may change keys, so a groupByKey after it repartitions; processValues() keeps them, so it does not', async () => {
    const keepOnlyEven = (): Processor<string, { n: number }, string, { n: number }> => {
      let context!: ProcessorContext<string, { n: number }>;
      return {
        init: (c) => (context = c),
        process: (record) => {
          if (record.value.n % 2 === 0) context.forward(record);
        },
      };
    };
    const keepOnlyEvenValues = (): FixedKeyProcessor<string, { n: number }> => {
      let context!: FixedKeyProcessorContext<string, { n: number }>;
      return {
        init: (c) => (context = c),
        process: (record) => {
          if (record.value.n % 2 === 0) context.forward(record);
        },
      };
    };
    const counting = (useProcessValues: boolean) => {
      const builder = new StreamsBuilder();
      const events = builder.stream<string, { n: number }>('numbers');
      const kept = useProcessValues ? events.processValues(keepOnlyEvenValues, { name: 'even' }) : events.process(keepOnlyEven, { name: 'even' });
      kept.groupByKey().count({ name: 'evens' });
      return builder.build();
    };
    expect(counting(false).describe()).toMatch(/repartition/i);
    expect(counting(true).describe()).not.toMatch(/repartition/i);

    await log.ensureTopic('numbers', { partitions: 2 });
    await log.produce(Array.from({ length: 40 }, (_, n) => ({ topic: 'numbers', key: Buffer.from(`k${n % 4}`), value: json({ n }) })));
    const app = new StreamsApp(counting(true), log, { applicationId: 'evens', stateDir: `${dir}/state` });
    await app.start();
    await waitForCaughtUp(app, log, 'evens', ['numbers']);
    expect((await log.listTopics()).filter((topic) => topic.startsWith('evens-') && topic.endsWith('-repartition'))).toEqual([]);
    const counts = new Map<string, number>();
    for (const store of app.localStores<KeyValueStore<string, number>>('evens')) for (const { key, value } of store.all()) counts.set(key, value);
    expect(counts).toEqual(new Map([['k0', 10], ['k2', 10]]));
    await app.close();
  });
});

import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { BufferConfig, StreamsApp, StreamsBuilder, Suppressed, type Topology } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

const json = (value: unknown) => (value === null ? null : Buffer.from(JSON.stringify(value)));

/**
 * The stores behind the KTable operations restore from their changelogs: a run is stopped, its
 * local state deleted, and a new run must carry on as if nothing happened (a suppress buffer
 * still holds what it held; a groupBy still knows each row's old group and each group's count).
 */
describe('KTable stores restore from their changelogs', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('ktable-restore');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function runOnce(topology: Topology, applicationId: string, input: string, records: Array<{ key: string; value: unknown; timestamp: number }>): Promise<void> {
    await log.produce(records.map((r) => ({ topic: input, key: Buffer.from(r.key), value: json(r.value), timestamp: r.timestamp })));
    const app = new StreamsApp(topology, log, { applicationId, stateDir: `${dir}/state`, commitIntervalMs: 50 });
    await app.start();
    try {
      await waitForCaughtUp(app, log, applicationId, [input]);
    } finally {
      await app.close();
    }
    fs.rmSync(`${dir}/state`, { recursive: true, force: true });
  }

  const outputs = async (topic: string) =>
    (await readAll(log, topic)).map((r) => ({ key: r.key!.toString(), value: r.value === null ? null : (JSON.parse(r.value.toString()) as unknown), timestamp: r.timestamp }));

  test('a suppress buffer holds its updates across a restart without local state', async () => {
    const topology = () => {
      const builder = new StreamsBuilder();
      builder
        .stream<string, { n: number }>('events')
        .toTable()
        .suppress(Suppressed.untilTimeLimit(60_000, BufferConfig.unbounded()))
        .toStream()
        .to('out');
      return builder.build();
    };
    await log.ensureTopic('events', { partitions: 1 });
    await log.ensureTopic('out', { partitions: 1 });
    await runOnce(topology(), 'suppress-restore', 'events', [
      { key: 'b', value: { n: 1 }, timestamp: 1_000 },
      { key: 'a', value: { n: 2 }, timestamp: 2_000 },
      { key: 'b', value: { n: 3 }, timestamp: 3_000 },
      { key: 'c', value: null, timestamp: 4_000 },
    ]);
    expect(await outputs('out')).toEqual([]);
    // Stream time starts over after a restart (as in Kafka Streams): this record alone moves it past every buffered time.
    await runOnce(topology(), 'suppress-restore', 'events', [{ key: 'd', value: { n: 4 }, timestamp: 100_000 }]);
    // Evicted in buffer-time order (b first buffered at 1000), each with its latest value and timestamp; the deletion passes.
    expect(await outputs('out')).toEqual([
      { key: 'b', value: { n: 3 }, timestamp: 3_000 },
      { key: 'a', value: { n: 2 }, timestamp: 2_000 },
      { key: 'c', value: null, timestamp: 4_000 },
    ]);
  });

  test('a groupBy count keeps each row in the right group across a restart without local state', async () => {
    const topology = () => {
      const builder = new StreamsBuilder();
      builder
        .table<string, { tier: string }>('users')
        .groupBy((_key, user) => [user.tier, user])
        .count()
        .toStream()
        .to('tiers');
      return builder.build();
    };
    await log.ensureTopic('users', { partitions: 1 });
    await log.ensureTopic('tiers', { partitions: 1 });
    await runOnce(topology(), 'groupby-restore', 'users', [
      { key: 'u1', value: { tier: 'gold' }, timestamp: 1 },
      { key: 'u2', value: { tier: 'gold' }, timestamp: 2 },
      { key: 'u3', value: { tier: 'silver' }, timestamp: 3 },
    ]);
    // After the restart, u1 moves to silver and u2 is deleted: the old groups are known only from restored state.
    await runOnce(topology(), 'groupby-restore', 'users', [
      { key: 'u1', value: { tier: 'silver' }, timestamp: 4 },
      { key: 'u2', value: null, timestamp: 5 },
    ]);
    expect((await outputs('tiers')).map(({ key, value }) => `${key}=${String(value)}`)).toEqual([
      'gold=1',
      'gold=2',
      'silver=1',
      'gold=1',
      'silver=2',
      'gold=0',
    ]);
  });

  test('a table-table join still sees the other side after a restart without local state', async () => {
    const topology = () => {
      const builder = new StreamsBuilder();
      const users = builder.table<string, { tier: string }>('users');
      const plans = builder.table<string, { plan: string }>('plans');
      users
        .leftJoin(plans, (user, plan) => ({ tier: user.tier, plan: plan?.plan ?? null }))
        .toStream()
        .to('joined');
      return builder.build();
    };
    await log.ensureTopic('users', { partitions: 1 });
    await log.ensureTopic('plans', { partitions: 1 });
    await log.ensureTopic('joined', { partitions: 1 });
    await runOnce(topology(), 'join-restore', 'users', [{ key: 'u1', value: { tier: 'gold' }, timestamp: 5_000 }]);
    await runOnce(topology(), 'join-restore', 'plans', [{ key: 'u1', value: { plan: 'team' }, timestamp: 1_000 }]);
    // Each run started without local state: the plan update met the user row restored from the join's changelog.
    expect(await outputs('joined')).toEqual([
      { key: 'u1', value: { tier: 'gold', plan: null }, timestamp: 5_000 },
      { key: 'u1', value: { tier: 'gold', plan: 'team' }, timestamp: 5_000 },
    ]);
  });
});

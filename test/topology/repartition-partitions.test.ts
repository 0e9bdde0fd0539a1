import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { partitionForKey } from '../../log/Murmur2.js';
import { Repartitioned, StreamsApp, StreamsBuilder } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** KStream.repartition(Repartitioned): the internal topic's name and partition count, and where records land. */
describe('repartition with a partition count', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('repartition-partitions');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('creates <app>-<name>-repartition with n partitions, each key on its murmur2 partition, and the count downstream is per key', async () => {
    await log.ensureTopic('events', { partitions: 1 });
    await log.ensureTopic('counts', { partitions: 1 });
    const builder = new StreamsBuilder();
    builder
      .stream<string, { user: string }>('events')
      .selectKey((_key, value) => value.user)
      .repartition({ ...Repartitioned.as('by-user'), numberOfPartitions: 3 })
      .groupByKey()
      .count()
      .toStream()
      .to('counts');
    const users = ['ann', 'bob', 'cid', 'dee', 'eve', 'fay', 'gus'];
    const inputs = Array.from({ length: 40 }, (_, i) => users[(i * 5) % users.length]!);
    await log.produce(inputs.map((user, i) => ({ topic: 'events', key: Buffer.from(`e${i}`), value: json({ user }), timestamp: 1_000 + i })));
    const app = new StreamsApp(builder.build(), log, { applicationId: 'rp', stateDir: `${dir}/state`, commitIntervalMs: 50 });
    await app.start();
    try {
      await waitForCaughtUp(app, log, 'rp', ['events', 'rp-by-user-repartition']);
    } finally {
      await app.close();
    }
    expect(await log.partitionCount('rp-by-user-repartition')).toBe(3);
    const repartitioned = await readAll(log, 'rp-by-user-repartition');
    expect(repartitioned).toHaveLength(inputs.length);
    for (const record of repartitioned) expect(record.partition).toBe(partitionForKey(record.key!, 3));
    expect(new Set(repartitioned.map((r) => r.partition)).size).toBeGreaterThan(1);
    const last = new Map<string, number>();
    for (const r of await readAll(log, 'counts')) last.set(r.key!.toString(), JSON.parse(r.value!.toString()) as number);
    const expected = new Map<string, number>();
    for (const user of inputs) expected.set(user, (expected.get(user) ?? 0) + 1);
    expect(Object.fromEntries([...last].sort())).toEqual(Object.fromEntries([...expected].sort()));
  });

  test('refuses a partition count that is not a positive integer', () => {
    const stream = new StreamsBuilder().stream<string, string>('events');
    expect(() => stream.repartition({ numberOfPartitions: 0 })).toThrow(/positive integer/);
    expect(() => stream.repartition({ numberOfPartitions: 1.5 })).toThrow(/positive integer/);
  });
});

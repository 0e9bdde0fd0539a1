import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { StreamsApp, StreamsBuilder } from '../../topology/index.js';
import { waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

type Event = { region: string; n: number };

/**
 * Produced.streamPartitioner and Repartitioned.streamPartitioner (Kafka Streams'
 * StreamPartitioner.partitions): the partitioner is given the topic's partition count and picks
 * the partitions; null keeps the default partitioner, [] drops the record, several multicast.
 */
describe('stream partitioner', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('partitioner');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
    await log.ensureTopic('events', { partitions: 1 });
    await log.ensureTopic('routed', { partitions: 3 });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const byRegion = (_topic: string, _key: string, value: Event, numPartitions: number): number[] | null => {
    seen.add(numPartitions);
    if (value.region === 'eu') return [2];
    if (value.region === 'all') return [...Array(numPartitions).keys()];
    if (value.region === 'none') return [];
    return null;
  };
  const seen = new Set<number>();

  /** Per partition, the keys found there. */
  async function keysByPartition(topic: string): Promise<string[][]> {
    const out: string[][] = [];
    for (let partition = 0; partition < (await log.partitionCount(topic)); partition++) {
      const records = await log.read({ topic, partition }, 0, 1000);
      out.push(records.map((r) => (r.key === null ? 'null' : r.key.toString())));
    }
    return out;
  }

  test('to() and repartition() send each record where the partitioner says, given the partition count', async () => {
    const builder = new StreamsBuilder();
    const events = builder.stream<string, Event>('events');
    events.to('routed', { streamPartitioner: byRegion });
    events.repartition({ name: 'by-region', numberOfPartitions: 4, streamPartitioner: byRegion }).to('after-repartition');
    const topology = builder.build();
    const json = (key: string | null, value: Event) => ({ topic: 'events', key: key === null ? null : Buffer.from(key), value: Buffer.from(JSON.stringify(value)), timestamp: 1000 });
    await log.produce([json('a', { region: 'eu', n: 1 }), json('b', { region: 'all', n: 2 }), json('c', { region: 'none', n: 3 }), json('d', { region: 'us', n: 4 }), json(null, { region: 'eu', n: 5 })]);
    const app = new StreamsApp(topology, log, { applicationId: 'route', stateDir: `${dir}/state`, commitIntervalMs: 50 });
    await app.start();
    await waitForCaughtUp(app, log, 'route', ['events', 'route-by-region-repartition']);
    await app.close();

    expect(seen).toEqual(new Set([3, 4]));
    const routed = await keysByPartition('routed');
    // a (eu) and the null-key eu record on 2; b (all) on every partition; c (none) nowhere; d by the default partitioner.
    expect(routed[2]).toEqual(expect.arrayContaining(['a', 'b', 'null']));
    expect(routed[0]).toContain('b');
    expect(routed[1]).toContain('b');
    expect(routed.flat().filter((k) => k === 'c')).toEqual([]);
    expect(routed.flat().filter((k) => k === 'd')).toHaveLength(1);
    const repartitioned = await keysByPartition('route-by-region-repartition');
    expect(repartitioned).toHaveLength(4);
    // The repartition drops the null-key record (Kafka Streams' repartition filter) before the partitioner.
    expect(repartitioned[2]).toEqual(['a', 'b']);
    expect(repartitioned.map((keys) => keys.filter((k) => k === 'b').length)).toEqual([1, 1, 1, 1]);
    expect(repartitioned.flat().filter((k) => k === 'c' || k === 'null')).toEqual([]);
  });

  test('with a topic name extractor, the partitioner gets the partition count of each record\'s topic (a new topic: created first)', async () => {
    await log.ensureTopic('routed-eu', { partitions: 4 });
    const counts = new Map<string, number>();
    const builder = new StreamsBuilder();
    builder.stream<string, Event>('events').to((record) => `routed-${record.value.region}`, {
      streamPartitioner: (topic, _key, value, numPartitions) => {
        counts.set(topic, numPartitions);
        return value.n < 0 ? [numPartitions] : [value.n % numPartitions];
      },
    });
    const json = (key: string, value: Event) => ({ topic: 'events', key: Buffer.from(key), value: Buffer.from(JSON.stringify(value)), timestamp: 1000 });
    await log.produce([json('a', { region: 'eu', n: 3 }), json('b', { region: 'eu', n: 6 }), json('c', { region: 'us', n: 4 }), json('bad', { region: 'eu', n: -1 })]);
    const app = new StreamsApp(builder.build(), log, { applicationId: 'route3', stateDir: `${dir}/state3`, commitIntervalMs: 50, defaultPartitions: 2 });
    await app.start();
    await waitForCaughtUp(app, log, 'route3', ['events']);
    await app.close();

    // routed-us did not exist: the commit created it (2 partitions, the app's default) before asking.
    expect(counts).toEqual(new Map([['routed-eu', 4], ['routed-us', 2]]));
    expect(await keysByPartition('routed-eu')).toEqual([[], [], ['b'], ['a']]);
    expect(await keysByPartition('routed-us')).toEqual([['c'], []]);
    // A partition outside the topic: the record goes to the dead letter topic with the reason, the others go on.
    const dead = await log.read({ topic: 'route3-dlq', partition: 0 }, 0, 10);
    expect(dead.map((r) => [r.key?.toString(), r.headers.dlq_reason])).toEqual([['bad', expect.stringMatching(/routed-eu.*partition 4/)]]);
  });

  test('a partition outside the topic fails the record (dead-lettered), the others go on', async () => {
    const builder = new StreamsBuilder();
    builder.stream<string, Event>('events').to('routed', { streamPartitioner: (_t, _k, v) => [v.n] });
    await log.produce([
      { topic: 'events', key: Buffer.from('x'), value: Buffer.from(JSON.stringify({ region: 'eu', n: 7 })), timestamp: 1000 },
      { topic: 'events', key: Buffer.from('y'), value: Buffer.from(JSON.stringify({ region: 'eu', n: 1 })), timestamp: 1000 },
    ]);
    const app = new StreamsApp(builder.build(), log, { applicationId: 'route2', stateDir: `${dir}/state2`, commitIntervalMs: 50 });
    await app.start();
    await waitForCaughtUp(app, log, 'route2', ['events']);
    await app.close();
    expect(await keysByPartition('routed')).toEqual([[], ['y'], []]);
  });
});

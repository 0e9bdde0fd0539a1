import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { partitionForKey } from '../../log/Murmur2.js';
import { StreamsApp, StreamsBuilder, TableJoined } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

type Learner = { name: string; course: string };
type Course = { title: string };

/**
 * TableJoined (KIP-775) on a foreign-key join: both tables' topics are written with a custom
 * placement (each key one partition after the default partitioner's), so a course's row is not
 * where murmur2 of its id says. With TableJoined's otherPartitioner the subscriptions reach the
 * task holding the course; with its partitioner the answers go where the learner lives; the name
 * names the join's topics and subscription store as Kafka Streams names them.
 */
describe('foreign-key join with TableJoined', () => {
  const PARTITIONS = 3;
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('fk-table-joined');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
    for (const topic of ['learners', 'courses']) await log.ensureTopic(topic, { partitions: PARTITIONS });
    await log.ensureTopic('enrolled', { partitions: 1 });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const custom = (key: string, numPartitions: number) => (partitionForKey(Buffer.from(key), numPartitions) + 1) % numPartitions;
  const placed = (topic: string, key: string, value: unknown, timestamp: number) => ({
    topic,
    key: Buffer.from(key),
    value: Buffer.from(JSON.stringify(value)),
    timestamp,
    partition: custom(key, PARTITIONS),
  });
  const asked: string[] = [];
  const learnerPartitioner = (topic: string, key: string, value: null, n: number) => {
    asked.push(`${topic}:${key}:${String(value)}`);
    return [custom(key, n)];
  };
  const coursePartitioner = (topic: string, key: string, value: null, n: number) => {
    asked.push(`${topic}:${key}:${String(value)}`);
    return [custom(key, n)];
  };

  async function run(applicationId: string, tableJoined: TableJoined<string, string>): Promise<string[]> {
    const builder = new StreamsBuilder();
    const learners = builder.table<string, Learner>('learners');
    const courses = builder.table<string, Course>('courses');
    learners
      .join(courses, (l) => l.course, (l: Learner, c: Course) => `${l.name}:${c.title}`, tableJoined)
      .toStream()
      .to('enrolled');
    const topology = builder.build();
    const app = new StreamsApp(topology, log, { applicationId, stateDir: `${dir}/${applicationId}`, commitIntervalMs: 50 });
    await app.start();
    await app.whenAssigned();
    const internal = topology.allInternalTopics().map((t) => `${applicationId}-${t.name}`);
    await waitForCaughtUp(app, log, applicationId, ['learners', 'courses', ...internal]);
    await app.close();
    return internal;
  }

  const records = [
    placed('courses', 'c1', { title: 'Algebra' }, 1000),
    placed('courses', 'c2', { title: 'Biology' }, 1100),
    placed('learners', 'ada', { name: 'Ada', course: 'c1' }, 2000),
    placed('learners', 'bo', { name: 'Bo', course: 'c2' }, 2100),
    placed('learners', 'cy', { name: 'Cy', course: 'c1' }, 2200),
  ];

  test('the partitioners place subscriptions and answers where the custom-placed rows are; the name names topics and store', async () => {
    await log.produce(records);
    const internal = await run('learn', TableJoined.with(learnerPartitioner, coursePartitioner).withName('enrol'));
    expect(internal.sort()).toEqual(['learn-enrol-subscription-registration-topic', 'learn-enrol-subscription-response-topic']);
    expect(await log.listTopics()).toContain('learn-enrol-subscription-store-changelog');
    expect((await readAll(log, 'enrolled')).map((r) => `${r.key!.toString()}=${JSON.parse(r.value!.toString()) as string}`).sort()).toEqual([
      'ada=Ada:Algebra',
      'bo=Bo:Biology',
      'cy=Cy:Algebra',
    ]);
    // Subscriptions (keyed by course) where the course lives, answers (keyed by learner) where the learner lives.
    for (const [topic, keys] of [
      ['learn-enrol-subscription-registration-topic', ['c1', 'c2']],
      ['learn-enrol-subscription-response-topic', ['ada', 'bo', 'cy']],
    ] as const) {
      for (let partition = 0; partition < PARTITIONS; partition++) {
        const here = (await log.read({ topic, partition }, 0, 100)).map((r) => r.key!.toString());
        expect(here.every((key) => custom(key, PARTITIONS) === partition)).toBe(true);
      }
      expect(asked.filter((a) => a.startsWith(`${topic}:`)).map((a) => a.split(':')[1])).toEqual(expect.arrayContaining([...keys]));
    }
    // Asked with a null value, as Kafka Streams' TableJoined partitioners are.
    expect(asked.every((a) => a.endsWith(':null'))).toBe(true);
  });

  test('without the other partitioner, subscriptions miss the custom-placed courses (why TableJoined exists)', async () => {
    await log.produce(records);
    await run('plain', TableJoined.as('plain'));
    // Subscriptions go to murmur2 of the course id, one partition before where each course is: no answers.
    expect(await readAll(log, 'enrolled')).toEqual([]);
  });

  test('a partitioner choosing several partitions is refused per record, as Kafka Streams refuses a non-singleton set', async () => {
    await log.produce(records.slice(0, 3));
    await run('many', TableJoined.with(undefined, (_t: string, _k: string, _v: null, n: number) => [...Array(n).keys()]));
    expect(await readAll(log, 'enrolled')).toEqual([]);
    const dead = await readAll(log, 'many-dlq');
    expect(dead.map((r) => r.headers.dlq_reason)).toEqual([expect.stringMatching(/must choose one partition, got \[0, 1, 2\]/)]);
  });
});

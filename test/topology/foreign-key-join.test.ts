import fs from 'node:fs';
import { Registry } from 'prom-client';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { StreamsApp, StreamsBuilder } from '../../topology/index.js';
import type { KeyValueStore } from '../../state/StateStore.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

type Learner = { name: string; course?: string };
type Course = { title: string };

/**
 * Foreign-key join (KTable.join(other, foreignKeyExtractor, joiner)): learners keyed by id name
 * the course they follow; courses keyed by course id. Built as Kafka Streams builds it, through
 * the subscription-registration and subscription-response topics; test/conformance's
 * foreign-key-join scenario compares the results with Kafka Streams itself.
 */
describe('foreign-key join', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('fk-join');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
    // Two partitions each: subscriptions and responses cross partitions.
    for (const topic of ['learners', 'courses', 'enrolled', 'enrolled-left']) await log.ensureTopic(topic, { partitions: 2 });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const json = (topic: string, key: string, value: unknown, timestamp: number) => ({ topic, key: Buffer.from(key), value: value === null ? null : Buffer.from(JSON.stringify(value)), timestamp });
  const learner = (id: string, value: Learner | null, timestamp: number) => json('learners', id, value, timestamp);
  const course = (id: string, value: Course | null, timestamp: number) => json('courses', id, value, timestamp);

  const topology = (coursesTopic = 'courses') => {
    const builder = new StreamsBuilder();
    const learners = builder.table<string, Learner>('learners');
    const courses = builder.table<string, Course>(coursesTopic);
    const label = (l: Learner, c: Course | undefined) => `${l.name}:${c ? c.title : '-'}`;
    learners.join(courses, (l) => l.course, label, { name: 'enrolled-store' }).toStream().to('enrolled');
    learners.leftJoin(courses, (l) => l.course, label).toStream().to('enrolled-left');
    return builder.build();
  };

  const internalTopics = () =>
    topology()
      .allInternalTopics()
      .map((t) => `learn-${t.name}`);

  async function run(records: ReturnType<typeof learner>[], registry = new Registry()): Promise<StreamsApp> {
    if (records.length > 0) await log.produce(records);
    const app = new StreamsApp(topology(), log, { applicationId: 'learn', stateDir: `${dir}/state`, registry, commitIntervalMs: 50 });
    await app.start();
    await app.whenAssigned();
    await waitForCaughtUp(app, log, 'learn', ['learners', 'courses', ...internalTopics()]);
    return app;
  }

  async function produceAndWait(app: StreamsApp, records: ReturnType<typeof learner>[]): Promise<void> {
    await log.produce(records);
    await waitForCaughtUp(app, log, 'learn', ['learners', 'courses', ...internalTopics()]);
  }

  const out = async (topic: string) => (await readAll(log, topic)).map((r) => `${r.key!.toString()}=${r.value === null ? null : (JSON.parse(r.value.toString()) as string)}@${r.timestamp}`);
  const byKey = (lines: string[], key: string) => lines.filter((l) => l.startsWith(`${key}=`));

  test('joins on the foreign key, follows changes of either side, and restores its subscriptions from the changelog', async () => {
    const app = await run([course('c1', { title: 'Algebra' }, 1000), course('c2', { title: 'Biology' }, 1500)]);
    await produceAndWait(app, [learner('ada', { name: 'Ada', course: 'c1' }, 2000), learner('bo', { name: 'Bo', course: 'c1' }, 2100), learner('cy', { name: 'Cy', course: 'c9' }, 2200)]);
    // A course update reaches every learner subscribed to it, with the course update's timestamp.
    await produceAndWait(app, [course('c1', { title: 'Algebra II' }, 3000)]);
    // Ada moves to c2: the join follows the new foreign key.
    await produceAndWait(app, [learner('ada', { name: 'Ada', course: 'c2' }, 4000)]);
    let inner = await out('enrolled');
    expect(byKey(inner, 'ada')).toEqual(['ada=Ada:Algebra@2000', 'ada=Ada:Algebra II@3000', 'ada=Ada:Biology@4000']);
    expect(byKey(inner, 'bo')).toEqual(['bo=Bo:Algebra@2100', 'bo=Bo:Algebra II@3000']);
    // c9 has no course: nothing in the inner join, the learner alone in the left join.
    expect(byKey(inner, 'cy')).toEqual([]);
    expect(byKey(await out('enrolled-left'), 'cy')).toEqual(['cy=Cy:-@2200']);
    await app.close();

    // Local state lost: the subscription store, the copies of both tables and the result come back from their changelogs.
    fs.rmSync(`${dir}/state`, { recursive: true, force: true });
    // Output per key (readAll reads partition after partition).
    const before = { ada: byKey(inner, 'ada').length, bo: byKey(inner, 'bo').length };
    const restored = await run([course('c2', { title: 'Biology II' }, 5000), course('c1', null, 5100)]);
    inner = await out('enrolled');
    // c2's update finds Ada's restored subscription (and not her old one to c1); c1's deletion unsets Bo.
    expect(byKey(inner, 'ada').slice(before.ada)).toEqual(['ada=Ada:Biology II@5000']);
    expect(byKey(inner, 'bo').slice(before.bo)).toEqual(['bo=null@5100']);
    expect(restored.localStores<KeyValueStore<string, string>>('enrolled-store').map((s) => s.get('ada')).filter((v) => v !== undefined)).toEqual(['Ada:Biology II']);
    await restored.close();
  });

  test('an answer for a row that changed meanwhile is dropped as stale (hash check), never emitted after the newer result', async () => {
    const registry = new Registry();
    const app = await run([course('c1', { title: 'Algebra' }, 1000), course('c2', { title: 'Biology' }, 1500)], registry);
    // Both updates of Ada in one batch: the answer to the first subscription usually arrives after the second update.
    await produceAndWait(app, [learner('ada', { name: 'Ada', course: 'c1' }, 2000), learner('ada', { name: 'Ada', course: 'c2' }, 2001)]);
    const inner = byKey(await out('enrolled'), 'ada');
    expect(inner[inner.length - 1]).toBe('ada=Ada:Biology@2001');
    const metric = await registry.getSingleMetric('streamline_processor_events_total')!.get();
    const stale = metric.values.filter((v) => v.labels.outcome === 'stale_response_dropped').reduce((sum, v) => sum + v.value, 0);
    // Each join's answer to the c1 subscription was either joined before the update to c2 or dropped as stale.
    const algebra = inner.filter((l) => l.includes('Algebra')).length + byKey(await out('enrolled-left'), 'ada').filter((l) => l.includes('Algebra')).length;
    expect(algebra + stale).toBe(2);
    await app.close();
  });

  test('the registration topic is sized like the right table, the response topic like the left (co-partitioned), whatever the writer', async () => {
    await log.ensureTopic('courses3', { partitions: 3 });
    await log.produce([
      { ...course('c1', { title: 'Algebra' }, 1000), topic: 'courses3' },
      learner('ada', { name: 'Ada', course: 'c1' }, 2000),
      learner('bo', { name: 'Bo', course: 'c1' }, 2100),
    ]);
    const app = new StreamsApp(topology('courses3'), log, { applicationId: 'learn3', stateDir: `${dir}/state3`, commitIntervalMs: 50 });
    await app.start();
    await app.whenAssigned();
    const internal = topology('courses3').allInternalTopics().map((t) => `learn3-${t.name}`);
    await waitForCaughtUp(app, log, 'learn3', ['learners', 'courses3', ...internal]);
    const counts = Object.fromEntries(await Promise.all(internal.map(async (t) => [t.replace(/-\d+-topic$/, ''), await log.partitionCount(t)] as const)));
    expect(counts).toEqual({ 'learn3-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION': 3, 'learn3-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE': 2 });
    expect((await out('enrolled')).sort()).toEqual(['ada=Ada:Algebra@2000', 'bo=Bo:Algebra@2100']);
    await app.close();
  });
});

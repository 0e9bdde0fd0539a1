import fs from 'node:fs';
import path from 'node:path';
import { openKafkaLog, type KafkaLog } from '../../log/kafka/KafkaLog.js';
import { testKafkaBrokers } from '../support/kafka-broker.js';
import { readAll } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';
import { PipelineChild, pipelineEnv } from './support/pipeline-child.js';
import { eventCounts, expectedCounts, isolatedEnv, productEvents, reached, sendEvents, waitForAggregates, type ProductEvent } from './support/product-load.js';
import { feedUntil } from '../support/feed-until.js';

/**
 * Issue 6, faults a, b and d on the run's real broker: the whole app (ingress, topology, sink on
 * chDB) in child processes, SIGKILLed or with its state deleted, must end with the clean topic,
 * the routed topic, the windowed aggregates and ClickHouse exactly as computed from the events
 * sent (no loss, no duplicate).
 */
describe('the whole app on Kafka through topology faults', () => {
  const root = tempDir('kafka-faults');
  const children: PipelineChild[] = [];
  let log: KafkaLog | undefined;
  let run = 0;

  beforeAll(async () => {
    log = await openKafkaLog({ brokers: testKafkaBrokers().split(','), clientId: `faults-reader-${process.pid}` });
  });

  afterAll(async () => {
    for (const child of children) await child.kill();
    await log?.close();
    fs.rmSync(root, { recursive: true, force: true });
  }, 60_000);

  async function start(env: Record<string, string>): Promise<PipelineChild> {
    const child = await PipelineChild.start(env);
    children.push(child);
    return child;
  }

  function scenario(name: string) {
    const tag = `faults-${process.pid}-${++run}-${name}`;
    const env = (dir: string, extra: Record<string, string> = {}) => pipelineEnv(testKafkaBrokers(), path.join(root, dir), { ...isolatedEnv(tag), ...extra });
    return { tag, env };
  }

  /**
   * Every event once in the clean topic and in user.activities (product events go there); the
   * seed 004 cube's final windows on the aggregates topic as counted from the events.
   */
  async function assertTopics(tag: string, events: ProductEvent[]): Promise<void> {
    const log = getLog();
    const ids = [...new Set(events.map((e) => e.event_id))].sort();
    for (const topic of [`${tag}.events.clean`, `${tag}.user.activities`]) {
      const got = (await readAll(log, topic)).map((r) => (JSON.parse(r.value!.toString()) as { event_id: string }).event_id).sort();
      expect({ topic, count: got.length }).toEqual({ topic, count: ids.length });
      expect(got).toEqual(ids);
    }
    const expected = expectedCounts(events).channelHourly;
    expect(await waitForAggregates(log, `${tag}.processor.aggregates`, expected)).toEqual(expected);
  }

  function getLog(): KafkaLog {
    if (!log) throw new Error('no reader log');
    return log;
  }

  test('a. an instance SIGKILLed mid-stream and restarted', async () => {
    const { tag, env } = scenario('kill');
    const events = productEvents(6000, 'a');
    const first = await start(env('a', { COMMIT_INTERVAL_MS: '20' }));
    const killed = first.whenCommitted(3);
    await sendEvents(first.address, events);
    await killed;
    await first.kill();

    const second = await start(env('a'));
    const expected = expectedCounts(events);
    expect(eventCounts(await second.waitForCounts(reached(expected)))).toEqual(eventCounts(expected));
    await assertTopics(tag, events);
    await second.stop();
  }, 180_000);

  test('b. two instances share the work; one is SIGKILLed and the other takes over its tasks', async () => {
    const { tag, env } = scenario('failover');
    const sink = await start(env('b-sink', { ROLES: 'sink' }));
    const a = await start(env('b-a', { ROLES: 'ingress,topology' }));
    const b = await start(env('b-b', { ROLES: 'topology' }));
    const before = productEvents(3000, 'b1');
    await sendEvents(a.address, before);
    // Both hold tasks and have committed work before b is killed (counted from their start). An
    // instance commits only what it processed: when the rebalance that gives b its tasks ends after
    // a processed everything sent (CI under load), b has nothing to commit, so events keep coming,
    // 100 a second, until both have committed twice (each wait bounded).
    const bothCommitted = Promise.all([a.whenCommittedInAll(2, 120_000), b.whenCommittedInAll(2, 120_000)]);
    let round = 0;
    await feedUntil(
      bothCommitted,
      async () => {
        const more = productEvents(100, `b1-more-${round++}`);
        before.push(...more);
        await sendEvents(a.address, more);
      },
      { pauseMs: 1000, timeoutMs: 125_000 },
    );
    await bothCommitted;
    await b.kill();
    const after = productEvents(3000, 'b2');
    await sendEvents(a.address, after);

    const all = [...before, ...after];
    const expected = expectedCounts(all);
    expect(eventCounts(await sink.waitForCounts(reached(expected)))).toEqual(eventCounts(expected));
    await assertTopics(tag, all);
    const metrics = await (await fetch(`${a.address}/metrics`)).text();
    // a took over b's tasks: it restored their stores from the changelogs.
    expect(Number(/^streamline_topology_active_tasks (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(/^streamline_topology_restored_records_total\{[^}]*\} [1-9]/m.test(metrics)).toBe(true);
    await a.stop();
    await sink.stop();
  }, 240_000);

  test('d. a store directory deleted while the instance is down is rebuilt from the changelog', async () => {
    const { tag, env } = scenario('wipe');
    const dir = 'd';
    const first = await start(env(dir));
    const events = productEvents(3000, 'd');
    await sendEvents(first.address, events);
    const expectedBefore = expectedCounts(events);
    expect(eventCounts(await first.waitForCounts(reached(expectedBefore)))).toEqual(eventCounts(expectedBefore));
    await first.stop();

    const stateDir = path.join(root, dir, 'state', `${tag}-app`);
    const taskDirs = fs.readdirSync(stateDir).filter((name) => name !== 'global');
    expect(taskDirs.length).toBeGreaterThan(0);
    fs.rmSync(stateDir, { recursive: true, force: true });

    const second = await start(env(dir));
    // Resent events (the restarted ingress has forgotten their ids) are duplicates only the
    // rebuilt dedupe store knows; new ones add to the windows the rebuilt aggregates hold.
    const more = productEvents(1500, 'd2');
    await sendEvents(second.address, [...events.slice(0, 1500), ...more]);
    const all = [...events, ...more];
    const expected = expectedCounts(all);
    expect(eventCounts(await second.waitForCounts(reached(expected)))).toEqual(eventCounts(expected));
    await assertTopics(tag, all);
    const metrics = await (await fetch(`${second.address}/metrics`)).text();
    expect(/^streamline_topology_restored_records_total\{[^}]*\} [1-9]/m.test(metrics)).toBe(true);
    await second.stop();
  }, 180_000);
});

import fs from 'node:fs';
import path from 'node:path';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import type { Log } from '../../log/Log.js';
import { openKafkaLog } from '../../log/kafka/KafkaLog.js';
import { testKafkaBrokers } from '../support/kafka-broker.js';
import { readAll } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';
import type { ClickHouseCounts } from './fixtures/pipeline-process.js';
import { PipelineChild, pipelineEnv } from './support/pipeline-child.js';
import { channelHourlyFinals, eventCounts, expectedCounts, isolatedEnv, productEvents, reached, sendEvents } from './support/product-load.js';

/**
 * Issue 13: `npm start` with two stream threads (and the log and the sink in their own threads)
 * is SIGKILLed while both threads commit every 20 ms with a backlog to work through, then
 * restarted on the same data: ClickHouse, the clean and routed topics and the windowed
 * aggregates end exactly as computed from the events sent, on the embedded log and on Kafka.
 */
const sorted = (record: Record<string, number>) => Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));

describe('SIGKILL while several stream threads commit', () => {
  const root = tempDir('stream-threads-crash');
  const children: PipelineChild[] = [];

  afterAll(async () => {
    for (const child of children) if (child.process.exitCode === null) await child.kill();
    fs.rmSync(root, { recursive: true, force: true });
  }, 60_000);

  async function start(env: Record<string, string>): Promise<PipelineChild> {
    const child = await PipelineChild.start(env);
    children.push(child);
    return child;
  }

  async function assertTopics(log: Log, prefix: string, events: ReturnType<typeof productEvents>): Promise<void> {
    const ids = [...new Set(events.map((e) => e.event_id))].sort();
    for (const topic of [`${prefix}events.clean`, `${prefix}user.activities`]) {
      const got = (await readAll(log, topic)).map((r) => (JSON.parse(r.value!.toString()) as { event_id: string }).event_id).sort();
      expect({ topic, count: got.length }).toEqual({ topic, count: ids.length });
      expect(got).toEqual(ids);
    }
    expect(await channelHourlyFinals(log, `${prefix}processor.aggregates`)).toEqual(expectedCounts(events).channelHourly);
  }

  async function killMidCommitAndRestart(env: Record<string, string>, tag: string) {
    const first = await start({ ...env, COMMIT_INTERVAL_MS: '20' });
    // Events go in batches until both stream threads hold tasks and commit (the second may join
    // the group after the first has taken every partition and worked through what was there).
    await first.started();
    const events: ReturnType<typeof productEvents> = [];
    const deadline = Date.now() + 120_000;
    for (let batch = 0; batch < 12 || (first.committingThreads.size < 2 && Date.now() < deadline); batch++) {
      const more = productEvents(500, `${tag}${batch}`);
      events.push(...more);
      await sendEvents(first.address, more);
      // Paced after the first batches, so the backlog stays under MAX_TOPOLOGY_LAG while a slow start catches up.
      if (batch >= 12) await first.whenCommitted(1, 10_000).catch(() => undefined);
    }
    expect(first.committingThreads.size).toBe(2);
    // Killed at once: both threads are working through the backlog, committing every 20 ms.
    const killed = (await first.kill()) as { signal: NodeJS.Signals | null };
    expect(killed.signal).toBe('SIGKILL');

    const second = await start(env);
    const expected = expectedCounts(events);
    // Every event in ClickHouse, and the windows' final counts too (buffered rows are emitted by interval).
    const sameWindows = (counts: ClickHouseCounts) => JSON.stringify(sorted(counts.channelHourly)) === JSON.stringify(sorted(expected.channelHourly));
    const counts = await second.waitForCounts((c) => reached(expected)(c) && sameWindows(c), 180_000);
    expect(eventCounts(counts)).toEqual(eventCounts(expected));
    expect(counts.channelHourly).toEqual(expected.channelHourly);
    return { events, second };
  }

  test('embedded log', async () => {
    const dataDir = path.join(root, 'embedded');
    const env = { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', STREAM_THREADS: '2', SINK_BATCH_LINGER: '200ms', AGGREGATION_EMIT_INTERVAL: '200ms' };
    const { events, second } = await killMidCommitAndRestart(env, 'emb');
    await second.stop();
    // The embedded log opens in one process at a time: read it once the service stopped.
    const log = await openEmbeddedLog({ dir: path.join(dataDir, 'log') });
    try {
      await assertTopics(log, '', events);
    } finally {
      await log.close();
    }
  }, 300_000);

  test('Kafka', async () => {
    const tag = `threads-crash-${process.pid}`;
    const env = pipelineEnv(testKafkaBrokers(), path.join(root, 'kafka'), { ...isolatedEnv(tag), STREAM_THREADS: '2' });
    const { events, second } = await killMidCommitAndRestart(env, 'kfk');
    const log = await openKafkaLog({ brokers: testKafkaBrokers().split(','), clientId: `${tag}-reader` });
    try {
      await assertTopics(log, `${tag}.`, events);
    } finally {
      await log.close();
      await second.stop();
    }
  }, 300_000);
});

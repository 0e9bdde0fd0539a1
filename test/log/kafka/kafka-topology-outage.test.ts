import fs from 'node:fs';
import { openKafkaLog, type KafkaLog } from '../../../log/kafka/KafkaLog.js';
import type { TopicPartition } from '../../../log/Log.js';
import { StreamsApp, StreamsBuilder, type Topology } from '../../../topology/index.js';
import { uniqueName } from '../log-contract.js';
import { startKafkaBroker, type KafkaBroker } from '../../support/kafka-broker.js';
import { partitionsOf, readAll, waitForCaughtUp } from '../../support/streams.js';
import { tempDir } from '../../support/temp-dir.js';

const INPUTS = 20_000;
const USERS = 37;

/** Resolves when check() holds, checking every 100 ms; rejects with `what` after timeoutMs. */
async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function clicksPerUser(input: string): Topology {
  const builder = new StreamsBuilder();
  const clicks = builder.stream<string, { user: string; n: number }>(input);
  clicks.to(`${input}-copies`);
  // groupBy changes the key: the counts are computed behind a repartition topic, which the
  // topology itself writes in transactions (so it holds commit markers).
  clicks
    .groupBy((_key, click) => click.user)
    .count({ name: 'clicks-per-user' })
    .toStream()
    .to(`${input}-counts`);
  return builder.build();
}

/**
 * The topology through a broker outage that hits it mid-stream, on a broker of its own: commits
 * fail while the broker is away, the runtime waits it out (however many failures: none counts
 * while the log is unreachable) and, once the broker is back, finishes with every output exact.
 * Then the group's committed offsets reach the end of each input, transaction markers included,
 * so the lag gauge shows 0.
 */
describe('the topology on Kafka through a broker outage', () => {
  let broker: KafkaBroker;
  let log: KafkaLog;
  let dir: string;

  beforeAll(async () => {
    broker = await startKafkaBroker();
    log = await openKafkaLog({
      brokers: [broker.brokers],
      clientId: uniqueName('topology-outage'),
      sessionTimeoutMs: 6_000,
      produceTimeoutMs: 3_000,
      requestTimeoutMs: 2_000,
      connectTimeoutMs: 1_000,
      retries: 1,
      retryBackoffMs: 200,
      healthTimeoutMs: 500,
    });
    dir = tempDir('kafka-topology-outage');
  }, 120_000);

  afterAll(async () => {
    await log?.close();
    await broker?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('keeps running through failed commits while the broker is away, then ends exact with lag 0', async () => {
    const input = uniqueName('clicks');
    const applicationId = uniqueName('clicks-app');
    await log.ensureTopic(input, { partitions: 3 });
    // Seeded in slices of 1,000: the log's produce timeout is short on purpose (3 s, so the outage
    // is noticed fast), and 5,000 records in one call can take longer than that on a loaded machine.
    for (let start = 0; start < INPUTS; start += 1_000) {
      await log.produce(
        Array.from({ length: 1_000 }, (_, i) => {
          const n = start + i;
          return { topic: input, key: Buffer.from(`k${n}`), value: Buffer.from(JSON.stringify({ user: `u${n % USERS}`, n })) };
        }),
      );
    }

    // A small poll and a low failure limit: the outage is sure to find uncommitted work, and
    // three failed commits would have stopped a runtime that counted outage failures.
    const app = new StreamsApp(clicksPerUser(input), log, { applicationId, stateDir: `${dir}/state`, maxPollRecords: 200, maxFailedCommits: 3 });
    const errors: Error[] = [];
    app.on('error', (error: Error) => errors.push(error));
    const firstCommit = new Promise<void>((resolve) => app.once('commit', () => resolve()));
    await app.start();
    await firstCommit;

    await broker.stop();
    const retriesWhileUnreachable = async () => (await app.metrics.retries.get()).values.find((v) => v.labels.log === 'unreachable')?.value ?? 0;
    await eventually('4 retries during the outage', async () => (await retriesWhileUnreachable()) >= 4, 60_000);
    expect((await app.metrics.commits.get()).values.find((v) => v.labels.result === 'failed')?.value).toBeGreaterThanOrEqual(1);
    expect(app.state).toBe('RUNNING');
    await broker.start();

    const repartition = (await log.listTopics()).filter((topic) => topic.startsWith(applicationId) && topic.endsWith('-repartition'));
    expect(repartition).toHaveLength(1);
    const inputs = [input, ...repartition];
    await waitForCaughtUp(app, log, applicationId, inputs, 120_000);
    expect(errors).toEqual([]);
    expect(app.state).toBe('RUNNING');

    // Committed offsets are the end offsets, markers included: nothing counts as lag.
    const partitions: TopicPartition[] = [];
    for (const topic of inputs) partitions.push(...(await partitionsOf(log, topic)));
    const committed = await log.committedOffsets(applicationId, partitions);
    for (const tp of partitions) expect({ ...tp, committed: committed.get(`${tp.topic}:${tp.partition}`) }).toEqual({ ...tp, committed: await log.endOffset(tp) });
    const lagOf = async () => (await app.metrics.lag.get()).values;
    await eventually('the lag gauge to show 0 for every input partition', async () => {
      const lag = await lagOf();
      return lag.length === partitions.length && lag.every((v) => v.value === 0);
    });
    await app.close();

    // Exactly once across the failed commits: every input copied once, the last count per user exact.
    const copies = (await readAll(log, `${input}-copies`)).map((r) => (JSON.parse(r.value!.toString()) as { n: number }).n);
    expect(copies).toHaveLength(INPUTS);
    expect(new Set(copies).size).toBe(INPUTS);
    const lastCount = new Map<string, number>();
    for (const record of await readAll(log, `${input}-counts`)) lastCount.set(record.key!.toString(), JSON.parse(record.value!.toString()) as number);
    const expected = new Map<string, number>();
    for (let n = 0; n < INPUTS; n++) expected.set(`u${n % USERS}`, (expected.get(`u${n % USERS}`) ?? 0) + 1);
    expect(lastCount).toEqual(expected);
  }, 300_000);
});

import fs from 'node:fs';
import { openKafkaLog, type KafkaLog } from '../../../log/kafka/KafkaLog.js';
import { StreamsApp, StreamsBuilder, type Topology } from '../../../topology/index.js';
import { uniqueName } from '../log-contract.js';
import { testKafkaBrokers } from '../../support/kafka-broker.js';
import { readAll, waitForCaughtUp } from '../../support/streams.js';
import { tempDir } from '../../support/temp-dir.js';

const INPUTS = 6_000;
const KEYS = 23;

function copiesAndCounts(input: string): Topology {
  const builder = new StreamsBuilder();
  const records = builder.stream<string, { n: number }>(input);
  records.to(`${input}-copies`);
  records.groupByKey().count({ name: 'per-key' }).toStream().to(`${input}-counts`);
  return builder.build();
}

/**
 * The group session expires under the topology (its event loop, which also sends the
 * heartbeats, is held longer than the session): the partitions are lost, not revoked. Their
 * uncommitted work is dropped without a commit attempt, the member rejoins, and the outputs end
 * exact. Before onLost, the lost partitions went through onRevoked's commit, which the broker
 * refused; and heartbeats answered for the old member id declared the new assignment lost again.
 */
describe('the topology on Kafka when its group session expires', () => {
  let log: KafkaLog;
  let dir: string;

  beforeAll(async () => {
    log = await openKafkaLog({ brokers: testKafkaBrokers().split(','), clientId: uniqueName('session-loss'), sessionTimeoutMs: 3_000 });
    dir = tempDir('kafka-session-loss');
  });

  afterAll(async () => {
    await log?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('drops the lost work, rejoins and ends with every output exact', async () => {
    const input = uniqueName('session-in');
    const applicationId = uniqueName('session-app');
    await log.ensureTopic(input, { partitions: 3 });
    await log.produce(Array.from({ length: INPUTS }, (_, n) => ({ topic: input, key: Buffer.from(`k${n % KEYS}`), value: Buffer.from(JSON.stringify({ n })) })));

    const app = new StreamsApp(copiesAndCounts(input), log, { applicationId, stateDir: `${dir}/state`, maxPollRecords: 100 });
    const errors: Error[] = [];
    app.on('error', (error: Error) => errors.push(error));
    let revocations = 0;
    app.on('revoked', () => revocations++);
    const firstCommit = new Promise<void>((resolve) => app.once('commit', () => resolve()));
    await app.start();
    await firstCommit;

    // Hold the event loop for twice the session: no heartbeat leaves, the broker expires the member.
    const until = Date.now() + 6_000;
    while (Date.now() < until) {
      // busy: a stall like a long synchronous computation
    }

    const countsTopic = `${input}-counts`;
    await waitForCaughtUp(app, log, applicationId, [input], 120_000);
    expect(errors).toEqual([]);
    expect(app.state).toBe('RUNNING');
    expect(revocations).toBeGreaterThanOrEqual(1);
    await app.close();

    const copies = (await readAll(log, `${input}-copies`)).map((r) => (JSON.parse(r.value!.toString()) as { n: number }).n);
    expect(copies).toHaveLength(INPUTS);
    expect(new Set(copies).size).toBe(INPUTS);
    const lastCount = new Map<string, number>();
    for (const record of await readAll(log, countsTopic)) lastCount.set(record.key!.toString(), JSON.parse(record.value!.toString()) as number);
    const expected = new Map<string, number>();
    for (let n = 0; n < INPUTS; n++) expected.set(`k${n % KEYS}`, (expected.get(`k${n % KEYS}`) ?? 0) + 1);
    expect(lastCount).toEqual(expected);
  }, 180_000);
});

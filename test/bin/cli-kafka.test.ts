import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { openKafkaLog } from '../../log/kafka/KafkaLog.js';
import type { Log } from '../../log/Log.js';
import { deadLetterFor } from '../../topology/index.js';
import { testKafkaBrokers } from '../support/kafka-broker.js';
import { runStreamline } from '../support/cli-runner.js';
import { readAll } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

const streamline = runStreamline;

/** The same commands with KAFKA_BROKERS set: they talk to the broker, not to a data dir. */
describe('streamline CLI against Kafka', () => {
  const suffix = randomUUID().slice(0, 8);
  const dir = tempDir('cli-kafka');
  let brokers: string;
  let log: Log;
  let env: Record<string, string>;

  beforeAll(async () => {
    brokers = testKafkaBrokers();
    log = await openKafkaLog({ brokers: brokers.split(','), clientId: `cli-test-${suffix}` });
    env = {
      KAFKA_BROKERS: brokers,
      DATA_DIR: dir,
      APPLICATION_ID: `cli-${suffix}`,
      KAFKA_TOPIC: `landing-${suffix}`,
      DLQ_TOPIC: `dlq-${suffix}`,
      REF_USERS_TOPIC: `users-${suffix}`,
      REF_ITEMS_TOPIC: `items-${suffix}`,
    };
  }, 60_000);

  afterAll(async () => {
    await log?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('ref load, dlq list/replay and topics', async () => {
    const file = path.join(dir, 'users.ndjson');
    fs.writeFileSync(file, '{"user_id":"u1","type":"premium"}\n{"user_id":"u2"}\n');
    const load = await streamline(['ref', 'load', 'users', file], env);
    expect({ code: load.code, stderr: load.stderr }).toEqual({ code: 0, stderr: '' });
    expect(load.stdout.trim()).toBe(`loaded 2 users rows into users-${suffix} (0 deletes) from ${file}`);
    // No landing topic yet: ref.users gets the ingress's landing partition count (4).
    expect(await log.partitionCount(`users-${suffix}`)).toBe(4);

    await log.ensureTopic(`landing-${suffix}`, { partitions: 4 });
    await log.ensureTopic(`dlq-${suffix}`, { partitions: 1 });
    const poison = { topic: `landing-${suffix}`, partition: 2, offset: 7, key: Buffer.from('u1'), value: Buffer.from('{broken'), headers: {}, timestamp: Date.now() };
    await log.produce([deadLetterFor(poison, `dlq-${suffix}`, 'not JSON')]);

    const list = await streamline(['dlq', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`from landing-${suffix}/2@7  key=u1  not JSON`);
    expect(list.stdout.trim().split('\n').pop()).toBe(`1 dead letters in dlq-${suffix}; showing 1`);

    const replay = await streamline(['dlq', 'replay'], env);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/^replayed 1 dead letters/);
    const landed = await readAll(log, `landing-${suffix}`);
    expect(landed.map((r) => [r.key?.toString(), r.value?.toString(), r.headers.retry_count])).toEqual([['u1', '{broken', '1']]);
    // The cursor, written in the replay's transaction, makes a second run find nothing new.
    const again = await streamline(['dlq', 'replay'], env);
    expect(again.stdout.trim()).toBe(`replayed 0 dead letters to their original topics from dlq-${suffix}; skipped 0`);
    expect(await readAll(log, `landing-${suffix}`)).toHaveLength(1);

    const topics = await streamline(['topics'], env);
    expect(topics.code).toBe(0);
    const users = topics.stdout.split('\n').filter((line) => line.startsWith(`users-${suffix} `));
    expect(users).toHaveLength(4);
    expect(users.reduce((sum, line) => sum + Number(line.split(/\s+/)[3]), 0)).toBe(2);
    // This app's group has no lag. (clickhouse-sink is the default sink group of every suite that
    // runs a sink on the run's shared broker, so its lag there is not this test's.)
    expect(topics.stdout.trim().split('\n').pop()).toMatch(new RegExp(`\\(kafka log\\); lag: (.*, )?cli-${suffix} 0(,|$)`));
  }, 120_000);
});

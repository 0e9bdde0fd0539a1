import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { openKafkaLog } from '../../log/kafka/KafkaLog.js';
import { testKafkaBrokers } from '../support/kafka-broker.js';
import { tempDir } from '../support/temp-dir.js';
import { isolatedEnv } from '../kafka-e2e/support/product-load.js';
import { landingEvents, produceLanding, runUntilCaughtUp, streamline, type PipelineTopics } from './reprocess-scenario.js';

/** REPROCESS_EVENTS overrides the count (the issue asks 50k; see docs/REPROCESSING.md for what was measured). */
const COUNT = Number(process.env.REPROCESS_EVENTS ?? 50_000);

describe('streamline reprocess on Kafka: the tables equal the from-scratch run, nothing doubled', () => {
  const tag = `rp-${randomUUID().slice(0, 8)}`;
  const dataDir = tempDir('reprocess-kafka');
  const isolated = isolatedEnv(tag);
  const topics: PipelineTopics = {
    landing: isolated.KAFKA_TOPIC!,
    clean: isolated.CLEAN_EVENTS_TOPIC!,
    aggregates: isolated.AGGREGATES_TOPIC!,
    applicationId: isolated.APPLICATION_ID!,
    sinkGroup: isolated.SINK_GROUP_ID!,
  };
  let env: Record<string, string>;
  const events = landingEvents(COUNT, Date.now());
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  test(`${COUNT} events processed, reprocessed from earliest, processed again`, async () => {
    const brokers = testKafkaBrokers();
    env = { ...isolated, KAFKA_BROKERS: brokers, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', SINK_BATCH_LINGER: '50ms', AGGREGATION_GRACE: '24h' };
    const log = await openKafkaLog({ brokers: brokers.split(','), clientId: `${tag}-producer` });
    try {
      await produceLanding(log, topics.landing, events);
    } finally {
      await log.close();
    }

    const first = await runUntilCaughtUp(env, topics, events.distinct, 900_000);
    expect(first.snapshot.events_raw!.rows).toBe(events.distinct);
    expect(first.snapshot.window_aggregates!.rows).toBeGreaterThan(0);
    console.log(`[reprocess kafka] first run ${COUNT} events: ${first.cpuMs} ms CPU`);

    const reprocess = await streamline(['reprocess', '--from', 'earliest', '--yes'], env);
    expect(reprocess.stderr).toBe('');
    expect(reprocess.code).toBe(0);
    expect(reprocess.stdout).toContain(`input ${topics.landing}: ${events.values.length} retained records`);
    expect(reprocess.stdout).toMatch(new RegExp(`delete [1-9]\\d* internal topics: ${topics.applicationId}-`));
    expect(reprocess.stdout).toMatch(new RegExp(`events_raw ${events.distinct} -> 0`));

    const second = await runUntilCaughtUp(env, topics, events.distinct, 900_000);
    console.log(`[reprocess kafka] reprocess of ${COUNT} events: ${second.cpuMs} ms CPU`);
    expect(second.snapshot.events_raw!.rows).toBe(events.distinct);
    expect(second.snapshot).toEqual(first.snapshot);
  }, 2_400_000);
});

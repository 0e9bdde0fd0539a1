import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

// jest require()s global setup through its transform but without the moduleNameMapper that maps
// our ".js" import specifiers onto the ".ts" files, so the helpers are required by their .ts names
// (the transform hook is active while setup runs). Types come from the usual imports.
const load = createRequire(__filename);
const { freeBrokerPort, kafkaToolsMissing, runNeedsKafka, startKafkaBroker } = load('./kafka-broker.ts') as typeof import('./kafka-broker.js');
const { ensureRedis } = load('./redis-server.ts') as typeof import('./redis-server.js');

/**
 * Starts what the suites need once per run and hands its address to them through env vars
 * (jest copies process.env into every worker).
 *
 * Kafka: with KAFKA_BROKERS set, tests use that broker. Otherwise, when the run includes a Kafka
 * test, one real broker is started on a free port for the whole run (TEST_KAFKA_BROKERS) and
 * stopped by global teardown. When it cannot be started (no Java or Maven), TEST_KAFKA_ERROR
 * carries the reason and every Kafka test fails with it; the other suites still run.
 */
export default async function globalSetup(
  globalConfig: Parameters<typeof import('./kafka-broker.js').runNeedsKafka>[0],
  projectConfig?: Parameters<typeof import('./kafka-broker.js').runNeedsKafka>[1],
): Promise<void> {
  const redis = await ensureRedis();
  process.env.TEST_REDIS_URL = redis.url;
  if (redis.startedPid) process.env.TEST_REDIS_STARTED_PID = String(redis.startedPid);

  await setUpKafka(globalConfig, projectConfig);
}

async function setUpKafka(
  globalConfig: Parameters<typeof import('./kafka-broker.js').runNeedsKafka>[0],
  projectConfig?: Parameters<typeof import('./kafka-broker.js').runNeedsKafka>[1],
): Promise<void> {
  const external = process.env.KAFKA_BROKERS ?? process.env.KAFKA_BOOTSTRAP_SERVERS;
  if (external && external.trim() !== '') {
    process.env.TEST_KAFKA_BROKERS = external.trim();
    return;
  }
  if (!runNeedsKafka(globalConfig, projectConfig)) return;
  const missing = kafkaToolsMissing();
  if (missing) {
    process.env.TEST_KAFKA_ERROR = missing;
    return;
  }
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-test-kafka-'));
  try {
    const broker = await startKafkaBroker({ port: await freeBrokerPort(), stateDir });
    process.env.TEST_KAFKA_BROKERS = broker.brokers;
    process.env.TEST_KAFKA_STARTED_PORT = String(broker.port);
    process.env.TEST_KAFKA_STATE_DIR = broker.stateDir;
  } catch (error) {
    process.env.TEST_KAFKA_ERROR = `the test broker did not start: ${(error as Error).message}`;
    // Keep the state dir (broker.log explains the failure) unless nothing was written there.
    if (fs.readdirSync(stateDir).length === 0) fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

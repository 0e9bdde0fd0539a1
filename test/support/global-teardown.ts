import { createRequire } from 'node:module';

// See global-setup.ts: jest require()s this file without the ".js" → ".ts" mapping.
const { stopKafkaBroker } = createRequire(__filename)('./kafka-broker.ts') as typeof import('./kafka-broker.js');

export default async function globalTeardown(): Promise<void> {
  const redisPid = process.env.TEST_REDIS_STARTED_PID;
  if (redisPid) {
    try {
      process.kill(Number(redisPid), 'SIGTERM');
    } catch {
      // already gone
    }
  }

  const kafkaPort = process.env.TEST_KAFKA_STARTED_PORT;
  const kafkaStateDir = process.env.TEST_KAFKA_STATE_DIR;
  if (kafkaPort && kafkaStateDir) {
    await stopKafkaBroker(Number(kafkaPort), kafkaStateDir);
  }
}

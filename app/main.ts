/**
 * `npm start`: ingress, topology, sinks and query API in one process. With no environment at
 * all it runs on embedded defaults under ./data; KAFKA_BROKERS, CLICKHOUSE_URL and REDIS_URL
 * move the parts onto real services.
 */
import { pino } from 'pino';
import { ConfigError } from './env.js';
import { startPipeline } from './Pipeline.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' });

async function main(): Promise<void> {
  const pipeline = await startPipeline(process.env, logger);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting for shutdown');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    pipeline
      .stop()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    logger.fatal(`configuration error: ${error.message}`);
  } else {
    logger.fatal({ err: error }, 'failed to start');
  }
  process.exit(1);
});

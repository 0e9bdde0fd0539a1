/**
 * `npm start`: ingress, topology, sinks and query API in one process. With no environment at
 * all it runs on embedded defaults under ./data; KAFKA_BROKERS, CLICKHOUSE_URL and REDIS_URL
 * move the parts onto real services.
 */
import { pino } from 'pino';
import { detachStdin } from '../config/QuietStdin.js';
import { armExitWatchdog } from './ExitWatchdog.js';
import { startService } from './Service.js';
import { explainStartError } from './StartErrors.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' });

async function main(): Promise<void> {
  // Before any thread opens a file (config/QuietStdin.ts): the sink's chDB inserts then take the
  // path that hands rows over as a buffer, whatever stdin `npm start` was given.
  if (!detachStdin()) logger.warn('stdin could not be pointed at /dev/null: chDB inserts take the slower stdin-proof path');
  const pipeline = await startService(process.env, logger, { ownsProcess: true });
  // Started without a broker, part of the start goes on after listening: its failure is as fatal.
  pipeline.started.catch((error: unknown) => fail(error, () => pipeline.stop()));
  // A pipeline thread that dies (app/threads/: out of heap, a crash) ends the process: a supervisor
  // restarts it and recovery resumes from the last commit, as after a crash.
  pipeline.failed.catch((error: unknown) => exitOnThreadDeath(error, () => pipeline.stop()));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting for shutdown');
      // process.exit joins every worker thread first: one stuck in chDB's addon would hold it forever.
      armExitWatchdog(SECOND_SIGNAL_EXIT_MS);
      process.exit(1);
    }
    stopping = true;
    // The orderly stop is bounded (PipelineWorker.stop: WORKER_STOP_TIMEOUT_MS, then terminate);
    // the watchdog makes the end certain should process.exit then join a thread stuck in native code.
    armExitWatchdog(FIRST_SIGNAL_EXIT_MS);
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

/** One line naming the cause and the fix (app/StartErrors.ts); the error itself rides along for details. */
function fail(error: unknown, cleanUp?: () => Promise<void>): void {
  logger.fatal({ err: error }, explainStartError(error, process.env));
  void Promise.resolve(cleanUp?.())
    .catch(() => undefined)
    .finally(() => process.exit(1));
}

/**
 * How long a failing process may take to stop before the watchdog kills it: the other threads'
 * last commits take well under a second; a thread that died inside chDB's addon can leave this one
 * blocked for good.
 */
const EXIT_WATCHDOG_MS = 5_000;
/**
 * From a SIGINT/SIGTERM to the process's end at the latest: the orderly stop takes 1-4 s under
 * full load; a worker that does not stop within WORKER_STOP_TIMEOUT_MS (10 s) is terminated, its
 * exit waited for 2 s, then the log closes and the process exits. Past this the watchdog kills it
 * (exactly-once holds: every commit is atomic, a restart recovers from the last one).
 */
const FIRST_SIGNAL_EXIT_MS = 15_000;
/** After a second SIGINT/SIGTERM, what process.exit may take before the watchdog kills the process. */
const SECOND_SIGNAL_EXIT_MS = 2_000;

/** One line naming the thread and why (PipelineWorker's workerDeath), then an exit that is certain. */
function exitOnThreadDeath(error: unknown, cleanUp: () => Promise<void>): void {
  armExitWatchdog(EXIT_WATCHDOG_MS);
  const message = error instanceof Error ? error.message : String(error);
  logger.fatal({ err: error }, `${message}: exiting (a restart resumes from the last commit)`);
  const stopped = cleanUp().catch(() => undefined);
  const timedOut = new Promise((resolve) => setTimeout(resolve, EXIT_WATCHDOG_MS - 1_000).unref());
  void Promise.race([stopped, timedOut]).finally(() => process.exit(1));
}

main().catch((error: unknown) => fail(error));

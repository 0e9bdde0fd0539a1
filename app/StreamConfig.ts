import { type Env, readInteger } from '../config/index.js';

/**
 * MAX_POLL_RECORDS: records the stream loop takes from the log per poll (Kafka's
 * max.poll.records; default 5000). Seed 002's EVENT_PROCESSOR_BUFFER_SIZE sets it when it is
 * unset (app/SeedEnv.ts).
 */
export function readMaxPollRecords(env: Env): number {
  return readInteger(env, 'MAX_POLL_RECORDS', 5000, 1, 1_000_000);
}

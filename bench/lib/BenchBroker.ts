/**
 * The Kafka broker of the kafka bench group: the one given in BENCH_KAFKA_BROKERS, or our own,
 * started through scripts/kafka-broker/kafka-broker.sh (the script behind `npm run kafka`) on a free pair of
 * ports with a temp state dir, and stopped (dir deleted) at the end. Never a broker someone else
 * started: a test run's broker is loaded by its tests, and stopping it would break them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
// The same start/stop through scripts/kafka-broker/kafka-broker.sh the tests use (free port pair, owner pid watchdog).
import { startKafkaBroker } from '../../test/support/kafka-broker.js';

export interface BenchBroker {
  brokers: string;
  /** True when this bench started it (and stop() stops it). */
  owned: boolean;
  stop(): Promise<void>;
}

export async function startBenchBroker(log: (line: string) => void): Promise<BenchBroker> {
  const given = process.env.BENCH_KAFKA_BROKERS;
  if (given) {
    log(`kafka: using BENCH_KAFKA_BROKERS=${given} (not started or stopped by the bench)`);
    return { brokers: given, owned: false, stop: async () => undefined };
  }
  const started = performance.now();
  const broker = await startKafkaBroker({ stateDir: fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-bench-kafka-')) });
  log(`kafka: own broker on ${broker.brokers} (state ${broker.stateDir}) ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { brokers: broker.brokers, owned: true, stop: () => broker.destroy() };
}

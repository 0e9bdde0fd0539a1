/**
 * Our contender in the Kafka bench (bench/scenarios/kafka.ts): the same work as the Kafka Streams
 * peer (bench/peer/), built with our DSL on the KafkaLog, exactly-once, in its own process so it
 * shares an event loop with neither the bench nor the JVM. The topology is in
 * kafka-topology-member.ts.
 *
 * threads=N (default 1) is Kafka Streams' num.stream.threads: N members of one consumer group
 * (application.id), each a StreamsApp with its own KafkaLog (consumer + transactional producer).
 * threads=1 runs its one member on the main thread, as before this option existed, so the
 * earlier single-thread figures stay comparable; threads>1 runs one member per worker thread
 * (kafka-topology-thread.ts) and the main thread only starts and stops them.
 *
 *   node --import tsx bench/kafka-topology.ts bootstrap=... input=... output=... application.id=... state.dir=... [commit.interval.ms=100] [threads=1]
 * Prints "state RUNNING" once every member runs; stops cleanly on SIGTERM or when stdin closes.
 */
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../log/remote/StartModuleWorker.js';
import { parseSettings, startMember, type MemberSettings } from './kafka-topology-member.js';
import type { ThreadEvent } from './kafka-topology-thread.js';

const setting = parseSettings(process.argv.slice(2));
const threads = Number(setting('threads', '1'));
if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads=${setting('threads')}: a whole number >= 1`);
const base: Omit<MemberSettings, 'memberName'> = {
  bootstrap: setting('bootstrap'),
  input: setting('input'),
  output: setting('output'),
  applicationId: setting('application.id'),
  stateDir: setting('state.dir'),
  commitIntervalMs: Number(setting('commit.interval.ms', '100')),
};

/** What the main thread stops: one member here, or N worker threads. */
let closeAll: () => Promise<void> = async () => undefined;
let stopping: Promise<void> | undefined;
const stop = (code: number) =>
  (stopping ??= (async () => {
    await closeAll().catch((error: unknown) => console.error(error));
    process.exit(code);
  })());
const fail = (message: string) => {
  console.error(`ours: topology failed: ${message}`);
  void stop(1);
};
process.on('SIGTERM', () => void stop(0));
// The bench holds stdin open; EOF means it is gone.
process.stdin.on('end', () => void stop(0));
process.stdin.resume();

if (threads === 1) {
  const member = await startMember({ ...base, memberName: 'main' }, (error) => fail(error.stack ?? error.message));
  closeAll = () => member.close();
} else {
  const workers: Worker[] = [];
  const running: Promise<void>[] = [];
  const stopped: Promise<void>[] = [];
  for (let n = 0; n < threads; n++) {
    const worker = startModuleWorker(new URL('./kafka-topology-thread.js', import.meta.url), { workerData: { ...base, memberName: `t${n}` } satisfies MemberSettings });
    workers.push(worker);
    let resolveRunning!: () => void;
    running.push(new Promise((resolve) => (resolveRunning = resolve)));
    // A worker is stopped once it said so or exited (after a failure it may exit first).
    stopped.push(
      new Promise((resolve) => {
        worker.on('message', (event: ThreadEvent) => {
          if (event.type === 'running') resolveRunning();
          else if (event.type === 'failed') fail(`thread t${n}: ${event.message}`);
          else resolve();
        });
        worker.once('exit', () => resolve());
      }),
    );
    worker.on('error', (error) => fail(`thread t${n}: ${error.stack ?? error.message}`));
  }
  closeAll = async () => {
    for (const worker of workers) worker.postMessage({ type: 'stop' });
    await Promise.all(stopped);
    await Promise.all(workers.map((worker) => worker.terminate()));
  };
  await Promise.all(running);
}
if (!stopping) console.log(`state RUNNING (${threads} thread${threads === 1 ? '' : 's'})`);

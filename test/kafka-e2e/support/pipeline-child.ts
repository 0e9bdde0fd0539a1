import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { ChildMessage, ClickHouseCounts, ParentMessage } from '../fixtures/pipeline-process.js';

const CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'fixtures', 'pipeline-process.ts');

/** The whole app (startService) in a child process, driven over IPC. */
export class PipelineChild {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  commits = 0;
  /** The stream threads seen committing. */
  readonly committingThreads = new Set<string>();
  /** Topics, topology and sink run (later than 'ready' when started without a broker). */
  isStarted = false;
  private countId = 0;
  private constructor(
    readonly process: ChildProcess,
    readonly address: string,
  ) {
    this.exited = new Promise((resolve) => process.once('exit', (code, signal) => resolve({ code, signal })));
    process.on('message', (message: ChildMessage) => {
      if (message.type === 'commit') {
        this.commits++;
        if (message.thread) this.committingThreads.add(message.thread);
      }
      if (message.type === 'started') this.isStarted = true;
    });
  }

  /** Resolves once the child's start sequence is done (app/StartSequence.ts). */
  started(timeoutMs = 120_000): Promise<void> {
    if (this.isStarted) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the start sequence did not finish within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (message: ChildMessage) => {
        if (message.type !== 'started') return;
        clearTimeout(timer);
        this.process.off('message', onMessage);
        resolve();
      };
      this.process.on('message', onMessage);
    });
  }

  static start(env: Record<string, string>): Promise<PipelineChild> {
    const clean = { ...process.env };
    delete clean.KAFKA_BOOTSTRAP_SERVERS;
    const child = fork(CHILD, [], { env: { ...clean, ...env }, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null, signal: string | null) => reject(new Error(`pipeline child exited (code ${code}, signal ${signal}) before it was ready`));
      child.once('exit', onExit);
      child.on('message', (message: ChildMessage) => {
        if (message.type !== 'ready') return;
        child.off('exit', onExit);
        resolve(new PipelineChild(child, message.address));
      });
    });
  }

  /** Resolves after `count` more commits of the topology. */
  whenCommitted(count: number, timeoutMs = 60_000): Promise<void> {
    return this.untilCommits(this.commits + count, timeoutMs);
  }

  /**
   * Resolves once the topology has committed `total` times since it started (at once if it has).
   * A stream thread with nothing uncommitted does not commit, so "more commits" never come to an
   * instance that already processed all it was given.
   */
  whenCommittedInAll(total: number, timeoutMs = 60_000): Promise<void> {
    return this.untilCommits(total, timeoutMs);
  }

  private untilCommits(target: number, timeoutMs: number): Promise<void> {
    if (this.commits >= target) return Promise.resolve();
    const count = target - this.commits;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fewer than ${count} commits within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (message: ChildMessage) => {
        if (message.type === 'commit' && this.commits >= target) {
          clearTimeout(timer);
          this.process.off('message', onMessage);
          resolve();
        }
      };
      this.process.on('message', onMessage);
    });
  }

  counts(): Promise<ClickHouseCounts> {
    const id = ++this.countId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer to a count query within 30 s')), 30_000);
      const onMessage = (message: ChildMessage) => {
        if (message.type === 'counts' && message.id === id) {
          clearTimeout(timer);
          this.process.off('message', onMessage);
          resolve(message.counts);
        }
      };
      this.process.on('message', onMessage);
      this.process.send({ type: 'counts', id } satisfies ParentMessage);
    });
  }

  /** Waits (polling the child's chDB) until the counts satisfy done, and returns them. */
  async waitForCounts(done: (counts: ClickHouseCounts) => boolean, timeoutMs = 90_000): Promise<ClickHouseCounts> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const counts = await this.counts();
      if (done(counts)) return counts;
      if (Date.now() > deadline) throw new Error(`ClickHouse counts ${JSON.stringify(counts)} did not arrive within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.send({ type: 'stop' } satisfies ParentMessage);
    const { code } = await this.exited;
    if (code !== 0) throw new Error(`pipeline child stopped with exit code ${code}`);
  }

  kill(): Promise<unknown> {
    this.process.kill('SIGKILL');
    return this.exited;
  }
}

/** Environment for a pipeline child on a broker: small timeouts so faults are noticed in seconds. */
export function pipelineEnv(brokers: string, dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: brokers,
    DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    COMMIT_INTERVAL_MS: '100',
    KAFKA_SESSION_TIMEOUT: '3s',
    KAFKA_TRANSACTION_TIMEOUT: '5s',
    KAFKA_REQUEST_TIMEOUT: '2s',
    KAFKA_CONNECT_TIMEOUT: '1s',
    KAFKA_PRODUCER_TIMEOUT: '3s',
    KAFKA_PRODUCER_RETRIES: '1',
    KAFKA_RETRY_BACKOFF_MS: '200ms',
    INGRESS_PRODUCE_TIMEOUT: '2s',
    CIRCUIT_BREAKER_TIMEOUT: '1s',
    SINK_BATCH_LINGER: '200ms',
    AGGREGATION_EMIT_INTERVAL: '200ms',
    CLICKHOUSE_EVENTS_TTL_DAYS: '0',
    ...extra,
  };
}

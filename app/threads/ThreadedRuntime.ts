import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AnalyticsQuery } from '../../ingress/routes/metrics-routes.js';
import type { Log } from '../../log/Log.js';
import { EmbeddedLogThread } from '../../log/remote/EmbeddedLogThread.js';
import type { AppConfig } from '../AppConfig.js';
import type { Env } from '../../config/index.js';
import { readTopicNames, type MemoryPlan } from '../../config/index.js';
import { embeddedLogOptions, openLog } from '../OpenLog.js';
import type { ExplainedReadinessCheck } from '../StartSequence.js';
import { AdminForwarding } from './AdminForwarding.js';
import { PipelineWorker, type WorkerHeapLimit } from './PipelineWorker.js';
import { streamHeapMbPerThread, type ThreadConfig } from './ThreadConfig.js';
import { includeWorkerMetrics } from './WorkerMetrics.js';
import type { WorkerReadiness } from './WorkerProtocol.js';

/** One worker thread to start: its name, roles and whether it serves the ClickHouse HTTP interface. */
interface WorkerPlan {
  name: string;
  roles: Array<'topology' | 'sink'>;
  serveQueries: boolean;
}

export interface ThreadedRuntimeOptions {
  config: AppConfig;
  /** After the seeds' variables were mapped: what every worker reads. */
  env: Env;
  threads: ThreadConfig;
  memory: MemoryPlan;
  /** The landing topic's partitions, when the topics are created here (no worker: ROLES=ingress). */
  landingPartitions: number;
  /** Whether a ClickHouse HTTP listener (query/) is configured: the sink's worker serves it. */
  serveQueries: boolean;
  registry: Registry;
  logger: Logger;
}

/**
 * The process spread over threads (issue 13, docs/ARCHITECTURE.md §1): this thread (HTTP) runs the
 * ingress only; the embedded log has its own thread (every other thread reaches it through a
 * RemoteLog, so each transaction is still one RocksDB write batch); STREAM_THREADS workers each run
 * a StreamsApp over their share of the tasks (members of one consumer group, as Kafka Streams'
 * StreamThreads); one worker runs the ClickHouse sink (and the query listener over its chDB). In
 * Kafka mode every thread opens its own clients. What the HTTP thread serves about the others
 * (admin routes, readiness, metrics, seed 004's analytics) it asks them for.
 */
export class ThreadedRuntime extends EventEmitter<{ commit: [{ records: number; thread: string }] }> {
  private stopped = false;
  /** Rejects when any thread dies or fails while the process is not stopping. */
  readonly failed: Promise<never>;
  /** Resolves when every thread's start is done (topics, topology, sink); rejects as `failed`. */
  readonly done: Promise<void>;

  private constructor(
    /** This thread's log client: the ingress writes through it. */
    readonly log: Log,
    private readonly logThread: EmbeddedLogThread | undefined,
    readonly streamWorkers: PipelineWorker[],
    readonly sinkWorker: PipelineWorker | undefined,
  ) {
    super();
    for (const worker of streamWorkers) worker.on('commit', (event) => this.emit('commit', event));
    const logThreadDied = new Promise<never>((_resolve, reject) => {
      logThread?.worker.once('exit', () => {
        if (!this.stopped) reject(new Error(logThread.stopped ?? 'the embedded log thread exited'));
      });
    });
    this.failed = Promise.race([logThreadDied, ...this.workers().map((worker) => worker.failed)]);
    this.failed.catch(() => undefined);
    this.done = Promise.race([Promise.all(this.workers().map((worker) => worker.done)).then(() => undefined), this.failed]);
    this.done.catch(() => undefined);
  }

  /** Rows of a query on the analytics store, which lives in the sink's thread. */
  sql<T>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
    if (!this.sinkWorker) return Promise.reject(new Error('this process runs no sink (ROLES)'));
    return this.sinkWorker.sql<T>(sql, params);
  }

  static async start(options: ThreadedRuntimeOptions): Promise<ThreadedRuntime> {
    const { config, env, threads, logger } = options;
    let logThread: EmbeddedLogThread | undefined;
    let log: Log;
    if (config.logMode === 'embedded') {
      logThread = await EmbeddedLogThread.start({ ...embeddedLogOptions(config, env), memory: options.memory.log, logLevel: config.logLevel });
      log = await logThread.connect();
    } else {
      log = await openLog(config, env, logger, options.registry);
    }
    const wantsSink = config.roles.includes('sink');
    const wantsTopology = config.roles.includes('topology');
    // chDB's addon has to be loaded by this thread first: loaded only by a worker, the process
    // crashes (SIGSEGV) when that worker or the process ends (tried with chdb 3.4 on Node 20).
    // Loaded here, it stays loaded until the process ends and the worker's sessions work as usual.
    const chdbLoaded = wantsSink && !env.CLICKHOUSE_URL ? import('chdb') : undefined;
    // The workers: STREAM_THREADS stream threads, and the sink in the first of them when it is the
    // only one (sinkSharesStreamThread), else in its own.
    const shared = wantsTopology && wantsSink && sinkSharesStreamThread(threads);
    const plans: WorkerPlan[] = Array.from({ length: wantsTopology ? threads.streamThreads : 0 }, (_, i) => ({
      name: `stream-${i + 1}`,
      roles: shared && i === 0 ? ['topology', 'sink'] : ['topology'],
      serveQueries: shared && i === 0 && options.serveQueries,
    }));
    if (wantsSink && !shared) plans.push({ name: 'sink', roles: ['sink'], serveQueries: options.serveQueries });
    // The stream threads' heaps are limited (issue 21): unlimited, V8 let garbage grow to 4x the
    // live heap at full capacity and RSS past the budget. The sink's own thread keeps V8's default.
    const streamHeap: WorkerHeapLimit = {
      maxOldGenerationSizeMb: streamHeapMbPerThread(threads, options.memory.streamHeapMb),
      setting: threads.streamHeapMb === undefined ? 'STREAM_HEAP_MB (default: a share of MEMORY_LIMIT_MB)' : 'STREAM_HEAP_MB',
    };
    const started: PipelineWorker[] = [];
    const startWorker = async (plan: WorkerPlan, onTopics?: () => void) => {
      if (plan.roles.includes('sink')) await chdbLoaded;
      const heap = plan.roles.includes('topology') ? streamHeap : undefined;
      const worker = await PipelineWorker.start({ ...plan, env, nice: threads.pipelineThreadNice, ...(logThread ? { logPort: logThread.port() } : {}) }, onTopics, heap);
      started.push(worker);
      return worker;
    };
    try {
      let workers: PipelineWorker[];
      const [first, ...rest] = plans;
      if (logThread && first) {
        // The first worker creates the pipeline's topics (its start's first step) and the others
        // start once they exist: all at once they would create them at once. This thread does not
        // load the pipeline (processors/, topology/, sink/) for that: it runs the ingress only.
        let topicsExist!: () => void;
        const topics = new Promise<void>((resolve) => (topicsExist = resolve));
        const firstWorker = startWorker(first, topicsExist);
        await Promise.race([topics, firstWorker]);
        workers = await Promise.all([firstWorker, ...rest.map((plan) => startWorker(plan))]);
      } else {
        if (logThread) {
          // No worker (ROLES=ingress): the topics the ingress writes are this thread's to create.
          const [{ ensurePipelineTopics }, { readPipelineConfig }] = await Promise.all([import('../../processors/PipelineTopics.js'), import('../../processors/PipelineConfig.js')]);
          await ensurePipelineTopics(log, readPipelineConfig(env, readTopicNames(env)), options.landingPartitions);
        }
        workers = await Promise.all(plans.map((plan) => startWorker(plan)));
      }
      const streamWorkers = workers.filter((_, i) => plans[i]!.roles.includes('topology'));
      const sinkWorker = workers.find((_, i) => plans[i]!.roles.includes('sink'));
      const runtime = new ThreadedRuntime(log, logThread, streamWorkers, sinkWorker);
      includeWorkerMetrics(options.registry, logThread ? [logThread, ...runtime.workers()] : runtime.workers());
      logger.info({ streamThreads: streamWorkers.length, sink: sinkWorker !== undefined, log: logThread ? 'log thread' : 'kafka' }, 'pipeline threads started');
      return runtime;
    } catch (error) {
      for (const worker of started) await worker.stop().catch(() => undefined);
      await log.close().catch(() => undefined);
      await logThread?.stop().catch(() => undefined);
      throw error;
    }
  }

  /** Every worker once (with one stream thread the sink is that thread: sinkWorker is streamWorkers[0]). */
  workers(): PipelineWorker[] {
    const own = this.ownSinkWorker();
    return own ? [...this.streamWorkers, own] : [...this.streamWorkers];
  }

  /** The admin routes the workers answer (processor API, /topology, the dashboard's query). */
  adminForwarding(): AdminForwarding {
    // A sink in the stream thread answers its routes among the thread's own.
    return new AdminForwarding(this.streamWorkers, this.ownSinkWorker());
  }

  /** The sink's worker when it runs in a thread of its own, not in a stream thread. */
  private ownSinkWorker(): PipelineWorker | undefined {
    return this.sinkWorker && !this.streamWorkers.includes(this.sinkWorker) ? this.sinkWorker : undefined;
  }

  /** Where the sink's worker serves the ClickHouse HTTP interface, when it does. */
  get queryAddress(): string | undefined {
    return this.sinkWorker?.queryAddress;
  }

  /** GET /ready: one check per role, each asking the threads that run it. */
  readinessChecks(): ExplainedReadinessCheck[] {
    const checks: ExplainedReadinessCheck[] = [];
    if (this.streamWorkers.length > 0) checks.push(workerCheck('topology', this.streamWorkers));
    if (this.sinkWorker) checks.push(workerCheck('clickhouse', [this.sinkWorker]));
    return checks;
  }

  analyticsQuery(): AnalyticsQuery | undefined {
    const sink = this.sinkWorker;
    return sink ? (query) => sink.analytics(query) : undefined;
  }

  /**
   * Workers first (each its last commit), then this thread's log client, then the log thread. A
   * worker that failed to stop in time (PipelineWorker.stop) does not hold the others or the log's
   * close back: its error is thrown once everything else is closed.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    const workers = await Promise.allSettled(this.workers().map((worker) => worker.stop()));
    await this.log.close();
    await this.logThread?.stop();
    const failed = workers.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/**
 * Whether the sink runs in the stream thread instead of its own (issue 21: idle RSS). With one
 * stream thread (the default on 2 cores) a sink thread is a fourth V8 isolate, ~11-19 MB of idle
 * RSS, on cores the HTTP, log and stream threads already share; with two or more stream threads
 * (more cores) the sink keeps its own thread, off the topology's event loop.
 */
export function sinkSharesStreamThread(threads: ThreadConfig): boolean {
  if (threads.sinkThread === 'own') return false;
  return threads.streamThreads === 1;
}

/** A readiness check that passes when the named check passes in every given thread; remembers why not. */
function workerCheck(name: string, workers: PipelineWorker[]): ExplainedReadinessCheck {
  let waiting: string | undefined;
  return {
    name,
    async check() {
      const answers = await Promise.all(workers.map((worker) => worker.readiness().catch((error: Error): WorkerReadiness[] => [{ name, ok: false, waitingFor: error.message }])));
      const failing = answers.flat().filter((answer) => answer.name === name && !answer.ok);
      waiting = failing.map((answer) => answer.waitingFor).find((reason) => reason !== undefined);
      return failing.length === 0;
    },
    waitingFor: () => waiting,
  };
}

import type { ReadinessCheck } from '../ingress/index.js';
import type { DefaultPipeline } from '../processors/DefaultPipeline.js';
import { ensurePipelineTopics } from '../processors/PipelineTopics.js';
import { applyPipelineExtensions, ensureExtensionTopics, loadPipelineExtensions, type PipelineExtensionModule } from '../processors/PipelineExtensions.js';
import type { AnalyticsRuntime } from '../sink/index.js';
import type { AnalyticsQuery } from '../ingress/routes/metrics-routes.js';
import type { StreamsApp, StreamsBuilder } from '../topology/index.js';
import type { TopologyRole, TopologyRoleOptions } from './TopologyRole.js';
import { ConfigError } from '../config/index.js';

export interface StartSequenceOptions extends TopologyRoleOptions {
  landingPartitions: number;
  /** Pause between attempts while the broker does not answer (doubles up to 8x). */
  retryDelayMs?: number;
  /** Called once the pipeline's topics exist (the first step): app/threads/ starts the other workers then. */
  onTopicsReady?: () => void;
}

/** A readiness check that can also say what it waits for (shown by GET /ready). */
export interface ExplainedReadinessCheck extends ReadinessCheck {
  waitingFor?(): string | undefined;
}

/** Attempts in a row that may fail while the broker answers before the failure is fatal. */
const FAILURES_WITH_BROKER_UP = 10;
/** While waiting, how often the log repeats what the start waits for. */
const WAITING_LOG_INTERVAL_MS = 30_000;

/**
 * The part of the start that needs the log: the pipeline's topics, the topology's group join and
 * the ClickHouse sink. On the embedded log it runs once and its failure is the start's failure.
 * On Kafka a broker that does not answer is not fatal (issue 21 item 4): the HTTP server starts
 * anyway (the ingress spools to disk and answers 2xx), GET /ready and the log say what the start
 * waits for, and the steps are retried until the broker answers; the topology then joins and the
 * spool drains in order. Config errors, and errors that persist while the broker answers, are fatal.
 */
export class StartSequence {
  readonly streams: StreamsApp | undefined;
  readonly pipeline: DefaultPipeline | undefined;
  private analyticsRuntime: AnalyticsRuntime | undefined;
  private step: 'topics' | 'topology' | 'sink' | 'done' = 'topics';
  private lastError: unknown;
  private stopped = false;
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private readonly wantsSink: boolean;
  private readonly builder: StreamsBuilder | undefined;
  /** PIPELINE_EXTENSIONS, loaded (and applied to the builder) once, at the first step. */
  private extensions: PipelineExtensionModule[] | undefined;
  /** Topics the extensions' sinks write (created at the topics step, retried with it on Kafka). */
  private extensionTopics: string[] = [];
  /** Embedded log: start() returns once the topology runs; the sink finishes in the background. */
  private sinkInBackground = false;
  private sinkStarting: Promise<void> | undefined;
  /** Resolves when every step is done; rejects with the fatal error. */
  readonly done: Promise<void>;
  private settle!: { resolve: () => void; reject: (error: unknown) => void };

  /**
   * Loads what the process's roles need and no more: the topology, the processors and the state
   * stores only for the topology role, the sink's modules (at its start) only for the sink role.
   */
  static async create(options: StartSequenceOptions): Promise<StartSequence> {
    const topology = options.config.roles.includes('topology') ? (await import('./TopologyRole.js')).createTopologyRole(options) : undefined;
    return new StartSequence(options, topology);
  }

  private constructor(
    private readonly options: StartSequenceOptions,
    topology: TopologyRole | undefined,
  ) {
    this.done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    // Observed by whoever awaits it; an unobserved rejection must not end the process on its own.
    this.done.catch(() => undefined);
    this.wantsSink = options.config.roles.includes('sink');
    this.builder = topology?.builder;
    this.pipeline = topology?.pipeline;
    this.streams = topology?.streams;
  }

  get analytics(): AnalyticsRuntime | undefined {
    return this.analyticsRuntime;
  }

  /** What the start still waits for, or undefined once everything runs. */
  waitingFor(): string | undefined {
    if (this.step === 'done') return undefined;
    const where = this.options.log.kind === 'kafka' ? `Kafka at ${this.brokers()}` : 'the embedded log';
    const what = this.step === 'topics' ? 'pipeline topics' : this.step === 'topology' ? 'topology group join' : 'ClickHouse sink';
    const cause = this.lastError === undefined ? '' : `: ${oneLine(this.lastError)}`;
    return `${where} (${what})${cause}; the ingress accepts events and spools them to disk meanwhile`;
  }

  private brokers(): string {
    return this.options.env.KAFKA_BROKERS ?? this.options.env.KAFKA_BOOTSTRAP_SERVERS ?? '?';
  }

  /**
   * Runs the steps. On the embedded log, or when the broker answers, this resolves once they are
   * done. On Kafka with the broker down it resolves after the first failed attempt and goes on in
   * the background (see `done`).
   */
  async start(): Promise<void> {
    if (this.options.log.kind !== 'kafka') {
      // The sink's start (chDB's engine, ~0.5 s of CPU, and migrations) goes on after this
      // returns: the listeners open meanwhile, GET /ready waits for "clickhouse", and a failure
      // of the sink rejects `done` (fatal, as before) instead of this call.
      this.sinkInBackground = true;
      await this.runSteps();
      return;
    }
    // A broker that does not answer a metadata request within a second is not waited for here
    // (the client's own retries would hold the HTTP server back for many seconds).
    const brokerUp = await this.options.log.isHealthy().catch(() => false);
    const firstAttempt = brokerUp
      ? this.runSteps().then(
          () => true,
          (error: unknown) => {
            if (error instanceof ConfigError || this.step === 'sink') throw error;
            this.lastError = error;
            return false;
          },
        )
      : Promise.resolve(false);
    if (!brokerUp) this.lastError = new Error(`no Kafka broker answers at ${this.brokers()}`);
    if (await firstAttempt) {
      this.settle.resolve();
      return;
    }
    this.options.logger.warn({ waitingFor: this.waitingFor() }, 'started without Kafka: waiting for the broker; GET /ready says what is missing');
    this.running = this.retryUntilDone();
  }

  /** Readiness checks for GET /ready: each role not yet started fails, saying why. */
  readinessChecks(): ExplainedReadinessCheck[] {
    const checks: ExplainedReadinessCheck[] = [];
    const waiting = () => this.waitingFor();
    if (this.streams) {
      const streams = this.streams;
      checks.push({
        name: 'topology',
        check: async () => streams.processing,
        waitingFor: () => waiting() ?? (streams.state === 'RUNNING' ? 'the topology setting up its tasks (opening and restoring their stores)' : undefined),
      });
    }
    if (this.wantsSink) {
      checks.push({
        name: 'clickhouse',
        check: async () => (this.analyticsRuntime ? this.analyticsRuntime.readiness.check() : false),
        waitingFor: () => (this.analyticsRuntime ? undefined : waiting()),
      });
    }
    return checks;
  }

  /** Seed 004's analytics query; 503 naming the wait until the sink has started. */
  analyticsQuery(): AnalyticsQuery | undefined {
    if (!this.wantsSink) return undefined;
    return async (query) => {
      if (this.analyticsRuntime) return this.analyticsRuntime.analytics(query);
      return { statusCode: 503, body: { error: `the analytics store is not started yet: waiting for ${this.waitingFor() ?? 'the start'}` } };
    };
  }

  /** Stops retrying, then stops what started (sink, then topology), in reverse start order. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running?.catch(() => undefined);
    await this.sinkStarting?.catch(() => undefined);
    if (this.analyticsRuntime) await this.analyticsRuntime.stop();
    if (this.streams) await this.streams.close();
    this.pipeline?.close();
  }

  private async runSteps(): Promise<void> {
    const { log, pipelineConfig, landingPartitions, env, config, registry, logger } = this.options;
    if (this.step === 'topics') {
      const partitions = await ensurePipelineTopics(log, pipelineConfig, landingPartitions);
      // Extensions add their nodes here, before the StreamsApp plans the topology at its start
      // (it reads the topology then, not when constructed): loading a module is asynchronous.
      if (!this.extensions) {
        const modules = await loadPipelineExtensions(env);
        if (this.builder && this.pipeline && modules.length > 0) {
          this.extensionTopics = applyPipelineExtensions(modules, this.builder, this.pipeline.streams, { config: pipelineConfig, env });
          logger.info({ extensions: modules.map((m) => m.source), topics: this.extensionTopics }, 'pipeline extensions added');
        }
        this.extensions = modules;
      }
      await ensureExtensionTopics(log, this.extensionTopics, partitions);
      this.step = 'topology';
      this.options.onTopicsReady?.();
    }
    const startSink = async () => {
      if (!this.wantsSink || this.stopped || this.analyticsRuntime) return;
      const [{ startAnalytics }, { defaultSinkRoutes }] = await Promise.all([import('../sink/index.js'), import('../sink/SinkConfig.js')]);
      if (this.stopped) return;
      this.analyticsRuntime = await startAnalytics({
        env,
        dataDir: config.dataDir,
        log,
        registry,
        logger: logger.child({ component: 'sink' }),
        routes: [
          ...defaultSinkRoutes({ rawEvents: pipelineConfig.cleanEventsTopic, aggregates: pipelineConfig.aggregatesTopic }),
          ...(this.extensions ?? []).flatMap((m) => m.clickhouse.map(({ topic, table, map }) => ({ topic, table, map }))),
        ],
        tables: (this.extensions ?? []).flatMap((m) => m.clickhouse.map((table) => table.create)),
        dlqTopic: pipelineConfig.dlqTopic,
      });
    };
    if (this.step === 'topology') {
      // The sink's start (chDB's engine load and migrations, mostly CPU on this thread) overlaps
      // the topology's (RocksDB opens and log reads, mostly on the thread pool): a faster restart.
      // The topology goes first so its opens are queued on the thread pool before chDB's
      // synchronous session creation holds this thread. The sink's own failure is not retried
      // (see retryUntilDone), hence `sinkFailure`.
      const topology = this.streams ? this.streams.start() : Promise.resolve();
      topology.catch(() => undefined);
      if (this.sinkInBackground) {
        this.sinkStarting = Promise.all([topology, startSink()]).then(
          () => {
            this.step = 'done';
            this.settle.resolve();
          },
          (error: unknown) => {
            this.lastError = error;
            this.settle.reject(error);
          },
        );
        await topology;
        if (this.step === 'topology') this.step = 'sink';
        return;
      }
      let sinkFailure: unknown;
      const sink = startSink().catch((error: unknown) => {
        sinkFailure = error;
      });
      try {
        await topology;
      } finally {
        await sink;
      }
      this.step = 'sink';
      if (sinkFailure !== undefined) throw sinkFailure;
    }
    if (this.step === 'sink') {
      await startSink();
      this.step = 'done';
    }
  }

  private async retryUntilDone(): Promise<void> {
    const { log, logger } = this.options;
    const baseDelay = this.options.retryDelayMs ?? 1000;
    let delay = baseDelay;
    let failuresWithBrokerUp = 0;
    let lastLoggedAt = Date.now();
    let attempts = 1;
    while (!this.stopped) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (this.stopped) return;
      attempts++;
      const stepBefore = this.step;
      try {
        await this.runSteps();
        logger.info({ attempts }, 'Kafka answers: topics ready, topology and sink started');
        this.lastError = undefined;
        this.settle.resolve();
        return;
      } catch (error) {
        this.lastError = error;
        if (error instanceof ConfigError || this.step === 'sink') {
          // The sink needs no broker to start: its failure (ClickHouse, chDB) is not an outage.
          this.settle.reject(error);
          return;
        }
        const brokerUp = await log.isHealthy().catch(() => false);
        failuresWithBrokerUp = brokerUp && stepBefore === this.step ? failuresWithBrokerUp + 1 : 0;
        if (failuresWithBrokerUp >= FAILURES_WITH_BROKER_UP) {
          this.settle.reject(error);
          return;
        }
        delay = brokerUp ? baseDelay : Math.min(delay * 2, baseDelay * 8);
        if (Date.now() - lastLoggedAt >= WAITING_LOG_INTERVAL_MS) {
          lastLoggedAt = Date.now();
          logger.warn({ attempts, waitingFor: this.waitingFor() }, 'still waiting for Kafka');
        }
      }
    }
  }
}

/** The first line of an error's message, with its cause's when it only wraps one. */
export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined;
  const first = message.split('\n')[0]!;
  return cause && !first.includes(cause) ? `${first} (${cause.split('\n')[0]})` : first;
}

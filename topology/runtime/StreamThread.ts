import type { LogConsumer, LogRecord, TopicPartition, TransactionalProducer } from '../../log/Log.js';
import { ConsumerLagMonitor } from './ConsumerLagMonitor.js';
import { isFatalLogError } from './FatalLogErrors.js';
import type { CommitEvent } from './StreamsConfig.js';
import type { StreamThreadContext } from './StreamThreadContext.js';
import type { StreamTask } from './StreamTask.js';
import { TaskCommitter } from './TaskCommitter.js';
import { TaskManager } from './TaskManager.js';

const MAX_BACKOFF_MS = 5_000;
/** A busy thread's poll wait (at most commitIntervalMs): what every poll waited before quiet polls waited longer. */
const BUSY_POLL_MS = 100;
/**
 * The longest a quiet thread's poll waits. A record appended meanwhile ends the wait at once (the
 * embedded consumer wakes on append; Kafka's fetch returns with data), so this bounds only how
 * long shutdown waits for the poll in flight.
 */
const QUIET_POLL_MAX_MS = 500;

/** What a stream thread tells its app. Plain data only, so that it can cross a worker's port. */
export interface StreamThreadListener {
  rebalancing(): void;
  restoring(event: { task: string; store: string }): void;
  assigned(partitions: TopicPartition[]): void;
  revoked(partitions: TopicPartition[]): void;
  tasksChanged(): void;
  committed(event: CommitEvent): void;
  /** The loop stopped on an error it will not retry; the thread is DEAD. */
  failed(error: Error): void;
}

export interface StreamThreadOptions {
  /** This thread's transactional producer id; threads of one instance must differ. */
  transactionalId: string;
  listener: StreamThreadListener;
  /** Catches the global stores up with their topics, every globalRefreshIntervalMs of the loop. */
  refreshGlobalStores?: () => Promise<unknown>;
}

export type StreamThreadState = 'RUNNING' | 'PENDING_SHUTDOWN' | 'DEAD';

/**
 * One poll-process-commit loop (Kafka Streams' StreamThread) with its own consumer (one member
 * of the application's group) and its own transactional producer (EOS v2 per thread): it polls,
 * hands records to their tasks, processes them synchronously, punctuates, and commits on the
 * interval through its TaskCommitter. A failed commit is retried after a backoff with the tasks
 * rebuilt from the last commit; an outage is waited out; a log that is gone for good stops it.
 */
export class StreamThread {
  private currentState: StreamThreadState = 'RUNNING';
  private loop: Promise<void> | undefined;
  private lastCommitAt = Date.now();
  private lastGlobalRefreshAt = Date.now();
  private commitChain: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private consecutiveFailures = 0;
  /** The last poll returned nothing and no task holds records or uncommitted work: the next poll may wait longer. */
  private quiet = false;
  private polledOnce = false;
  private failuresWithLogReachable = 0;
  private readonly lag: ConsumerLagMonitor;
  readonly taskManager: TaskManager;
  private readonly committer: TaskCommitter;
  /** The task manager's live map, held here so the hot loop reads a field rather than a getter. */
  private readonly tasks: ReadonlyMap<string, StreamTask>;

  private constructor(
    private readonly context: StreamThreadContext,
    private readonly options: StreamThreadOptions,
    private readonly consumer: LogConsumer,
    private readonly producer: TransactionalProducer,
  ) {
    const { listener } = options;
    this.taskManager = new TaskManager(context, consumer, {
      commit: () => this.commit(),
      commitsSettled: () => this.commitChain,
      isRunning: () => this.currentState === 'RUNNING',
      rebalancing: () => listener.rebalancing(),
      restoring: (event) => listener.restoring(event),
      assigned: (partitions) => listener.assigned(partitions),
      revoked: (partitions) => listener.revoked(partitions),
      tasksChanged: () => listener.tasksChanged(),
    });
    this.tasks = this.taskManager.tasks;
    this.committer = new TaskCommitter(context, this.taskManager, consumer, producer);
    this.lag = new ConsumerLagMonitor(context.log, context.config.applicationId, context.metrics.lag, context.logger);
  }

  /**
   * Opens the thread's producer and consumer and joins the group (subscribe); start() runs the
   * loop. A failure leaves nothing open, so the caller can try again.
   */
  static async create(context: StreamThreadContext, options: StreamThreadOptions): Promise<StreamThread> {
    const { log, config } = context;
    let producer: TransactionalProducer | undefined;
    let consumer: LogConsumer | undefined;
    try {
      producer = await log.createTransactionalProducer(options.transactionalId);
      consumer = log.createConsumer({ groupId: config.applicationId, autoOffsetReset: 'earliest' });
      const thread = new StreamThread(context, options, consumer, producer);
      const tasks = thread.taskManager;
      await consumer.subscribe([...context.subtopologyByTopic.keys()], {
        onAssigned: (partitions) => tasks.handleAssigned(partitions),
        onRevoked: (partitions) => tasks.handleRevoked(partitions),
        onLost: (partitions) => tasks.handleLost(partitions),
      });
      return thread;
    } catch (error) {
      await consumer?.close().catch(() => undefined);
      await producer?.close().catch(() => undefined);
      throw error;
    }
  }

  get state(): StreamThreadState {
    return this.currentState;
  }

  get error(): Error | undefined {
    return this.failure;
  }

  /**
   * The tasks of the first assignment are set up with their stores restored, or the loop's first
   * poll returned without one (the group joined and gave this thread nothing). Kafka Streams' thread
   * leaves PARTITIONS_ASSIGNED for RUNNING there.
   */
  get startedUp(): boolean {
    return this.polledOnce || this.taskManager.hasAssignment;
  }

  start(): void {
    this.loop ??= this.runLoop();
  }

  /**
   * Stops the loop (it processes what its last poll returned), then commits unless told not to,
   * closes the tasks and leaves the group. Safe to call twice.
   */
  async shutdown(options: { commit: boolean }): Promise<void> {
    if (this.currentState === 'RUNNING') this.currentState = 'PENDING_SHUTDOWN';
    await this.loop?.catch(() => undefined);
    await this.taskManager.rebalancesSettled();
    await this.lag.idle();
    if (options.commit && this.failure === undefined) {
      await this.commit().catch((error) => this.context.logger?.error({ err: error }, 'final commit failed'));
    }
    await this.taskManager.closeAll();
    await this.consumer.close();
    await this.producer.close();
    this.currentState = 'DEAD';
  }

  /** Serialized: the loop and a rebalance callback may both ask for a commit. */
  commit(): Promise<void> {
    const run = this.commitChain.then(() => this.commitWithRecovery());
    this.commitChain = run.catch(() => undefined);
    return run;
  }

  private async runLoop(): Promise<void> {
    const { consumer, context } = this;
    const { config } = context;
    try {
      while (this.currentState === 'RUNNING') {
        if (this.taskManager.isCorrupted) {
          try {
            await this.taskManager.reviveCorrupted();
          } catch (error) {
            await this.backOffOrGiveUp(error, 'rebuilding tasks failed; retrying');
            continue;
          }
        }
        const records = await consumer.poll(config.maxPollRecords, this.pollTimeoutMs());
        this.polledOnce = true;
        if (this.currentState !== 'RUNNING') {
          this.route(records);
          this.processBuffered();
          break;
        }
        const busyFrom = performance.now();
        this.route(records);
        this.reportCatchUp(consumer);
        this.processBuffered();
        context.metrics.recordProcessing(performance.now() - busyFrom);
        const now = Date.now();
        for (const task of this.tasks.values()) task.punctuateWallClock(now);
        if (this.options.refreshGlobalStores && now - this.lastGlobalRefreshAt >= config.globalRefreshIntervalMs) {
          this.lastGlobalRefreshAt = now;
          // The log may be briefly away (a broker restart): global stores keep what they have
          // and catch up at a later refresh; the topology must not stop over it.
          await this.options.refreshGlobalStores().catch((error: unknown) => context.logger?.warn({ err: error }, 'refreshing global stores failed; retrying at the next interval'));
        }
        // A commit with no task holding uncommitted work would write nothing: an idle thread skips it.
        if (this.anyTaskWantsCommit() || (now - this.lastCommitAt >= config.commitIntervalMs && this.anyTaskHasUncommittedWork())) await this.commit();
        this.quiet = records.length === 0 && this.nothingHeld();
        if (this.lag.isDue(now, this.quiet)) this.lag.refresh(now, consumer.assignment(), this.quiet);
      }
    } catch (error) {
      this.failure = error instanceof Error ? error : new Error(String(error));
      this.currentState = 'DEAD';
      this.options.listener.failed(this.failure);
    }
  }

  /**
   * How long the next poll may wait for records. A busy thread: BUSY_POLL_MS (at most
   * commitIntervalMs), as always. A quiet one (issue 21: ten empty turns a second kept every idle
   * isolate allocating) until the next thing due on the clock: a wall-clock punctuation, a global
   * store refresh, the lag's refresh, at most QUIET_POLL_MAX_MS; never shorter than a busy poll,
   * so nothing due comes later than it did.
   */
  private pollTimeoutMs(): number {
    const { config } = this.context;
    const busy = Math.min(config.commitIntervalMs, BUSY_POLL_MS);
    if (!this.quiet || this.taskManager.isCorrupted) return busy;
    const now = Date.now();
    let due = Math.min(now + QUIET_POLL_MAX_MS, this.lag.dueAt(true));
    if (this.options.refreshGlobalStores) due = Math.min(due, this.lastGlobalRefreshAt + config.globalRefreshIntervalMs);
    for (const task of this.tasks.values()) {
      const punctuation = task.nextWallClockAt();
      if (punctuation !== undefined && punctuation < due) due = punctuation;
    }
    return Math.max(busy, due - now);
  }

  /** No task holds records to process or work to commit. */
  private nothingHeld(): boolean {
    for (const task of this.tasks.values()) if (task.buffered() > 0 || task.hasUncommittedWork() || task.wantsCommit()) return false;
    return true;
  }

  /** New tasks wait for their other inputs' existing records (StreamTask.waitForInput) until the consumer's position shows them read. */
  private reportCatchUp(consumer: LogConsumer): void {
    for (const task of this.tasks.values()) {
      for (const topic of task.catchingUp()) {
        const position = consumer.position({ topic, partition: task.partition });
        if (position !== undefined) task.inputPosition(topic, position);
      }
    }
  }

  private route(records: LogRecord[]): void {
    if (records.length === 0) return;
    let batchTask: StreamTask | undefined;
    let batch: LogRecord[] = [];
    for (const record of records) {
      const task = this.taskManager.taskFor(record.topic, record.partition);
      if (task !== batchTask) {
        if (batchTask && batch.length) batchTask.addRecords(batch);
        batchTask = task;
        batch = [];
      }
      batch.push(record);
    }
    if (batchTask && batch.length) batchTask.addRecords(batch);
  }

  private processBuffered(): void {
    for (const task of this.tasks.values()) {
      while (task.processOne()) {
        // keep going until the task's buffer is empty
      }
    }
  }

  private anyTaskWantsCommit(): boolean {
    for (const task of this.tasks.values()) if (task.wantsCommit()) return true;
    return false;
  }

  private anyTaskHasUncommittedWork(): boolean {
    for (const task of this.tasks.values()) if (task.hasUncommittedWork()) return true;
    return false;
  }

  /**
   * A failed commit has already marked the tasks for a rebuild from the last commit; the loop
   * goes on after a backoff (the log may be briefly away), and gives up only after many failures
   * in a row.
   */
  private async commitWithRecovery(): Promise<void> {
    try {
      await this.taskManager.reviveCorrupted();
      this.lastCommitAt = Date.now();
      const event = await this.committer.commit();
      if (event) this.options.listener.committed(event);
      this.consecutiveFailures = 0;
      this.failuresWithLogReachable = 0;
    } catch (error) {
      await this.backOffOrGiveUp(error, 'commit failed; tasks will be rebuilt from the last commit');
    }
  }

  /**
   * Failures while the log is unreachable are an outage, not a fault: the loop waits for it as
   * long as it lasts (the ingress spools meanwhile, to BUFFER_DIR; an outage of half an hour is meant to pass).
   * Only failures with the log answering count towards giving up. A log whose server is gone
   * (isFatalLogError) never answers again: waiting for it would hang the topology in RUNNING.
   */
  private async backOffOrGiveUp(error: unknown, message: string): Promise<void> {
    if (isFatalLogError(error)) throw error;
    this.consecutiveFailures++;
    const logReachable = await this.context.log.isHealthy().catch(() => false);
    if (logReachable) this.failuresWithLogReachable++;
    this.context.metrics.retries.inc({ log: logReachable ? 'reachable' : 'unreachable' });
    this.context.logger?.warn({ err: error, failures: this.consecutiveFailures, logReachable }, logReachable ? message : `${message} (the log is unreachable; waiting for it)`);
    if (this.failuresWithLogReachable >= this.context.config.maxFailedCommits) throw error;
    await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_BACKOFF_MS, 50 * 2 ** this.consecutiveFailures)));
  }
}

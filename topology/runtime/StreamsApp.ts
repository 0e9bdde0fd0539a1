import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Log, LogConsumer, LogRecord, ProducerRecord, TopicPartition, TopicPartitionOffset, TransactionalProducer } from '../../log/Log.js';
import type { StateStore } from '../../state/StateStore.js';
import type { RuntimeStore } from '../StoreBuilder.js';
import type { Subtopology } from '../Subtopologies.js';
import type { Topology } from '../Topology.js';
import { ConsumerLagMonitor } from './ConsumerLagMonitor.js';
import { GlobalStateUpdater } from './GlobalStateUpdater.js';
import { InvalidStateStoreError } from './InvalidStateStoreError.js';
import { restoreStore } from './StateRestorer.js';
import { StreamTask } from './StreamTask.js';
import { needsPersistedStreamTime, taskStreamTimeStore } from './TaskStreamTime.js';
import { TopologyMetrics } from './TopologyMetrics.js';
import { planTopics, type TopicPlan } from './TopicPlanner.js';

export interface StreamsConfig {
  /** Names the consumer group, the transactional id and the changelog/repartition topics. */
  applicationId: string;
  /** Local stores live under <stateDir>/<applicationId>/<taskId>/<store>; global ones under .../global/<store>. */
  stateDir: string;
  /** Kafka Streams' default under exactly-once. */
  commitIntervalMs?: number;
  maxPollRecords?: number;
  dlqTopic?: string;
  /** Partition count for topics the runtime has to create (missing sources and sinks). */
  defaultPartitions?: number;
  /** How often global stores read what was appended to their topics. */
  globalRefreshIntervalMs?: number;
  /**
   * Names this instance's transactional producer: `<applicationId>-<instanceId>`. Instances must
   * differ, or they fence each other on every commit; zombies are fenced by the consumer group
   * generation instead (EOS v2). Default: a random id per start.
   */
  instanceId?: string;
  /**
   * Failed commits in a row, with the log answering, before the topology stops with an error.
   * Failures while the log is unreachable do not count: an outage is waited out.
   */
  maxFailedCommits?: number;
  registry?: Registry;
  logger?: Logger;
}

const DEFAULT_MAX_FAILED_COMMITS = 10;
const MAX_BACKOFF_MS = 5_000;
/** How long a new task with several inputs waits for each to be read up to its end (StreamTask.waitForInput). */
const MAX_TASK_CATCH_UP_MS = 10_000;

export type StreamsState = 'CREATED' | 'STARTING' | 'RUNNING' | 'PENDING_SHUTDOWN' | 'NOT_RUNNING' | 'ERROR';

export interface CommitEvent {
  /** Input offsets committed. */
  offsets: TopicPartitionOffset[];
  /**
   * Per partition written (outputs, repartition topics, changelogs), the offset after the last
   * record. On Kafka the commit markers follow commit() by a few milliseconds: a reader that
   * must see this commit's records waits until the partitions' end offsets reach these.
   */
  written: TopicPartitionOffset[];
  records: number;
  durationMs: number;
}

/**
 * The stream runtime (Kafka Streams' KafkaStreams + StreamThread, in one loop): consume, hand
 * records to their tasks, process synchronously, punctuate, and commit on an interval with
 * exactly-once semantics — outputs, changelogs and input offsets in one transaction, then the
 * local stores with their checkpoints.
 */
export class StreamsApp extends EventEmitter {
  readonly metrics: TopologyMetrics;
  private readonly config: Required<Omit<StreamsConfig, 'logger' | 'registry'>>;
  private readonly tasks = new Map<string, StreamTask>();
  private readonly subtopologyByTopic = new Map<string, Subtopology>();
  private readonly knownTopics = new Set<string>();
  private plan: TopicPlan | undefined;
  private consumer: LogConsumer | undefined;
  private producer: TransactionalProducer | undefined;
  private globals: GlobalStateUpdater | undefined;
  private globalStores = new Map<string, StateStore>();
  private loop: Promise<void> | undefined;
  private currentState: StreamsState = 'CREATED';
  private lastCommitAt = Date.now();
  private lastGlobalRefreshAt = Date.now();
  private commitChain: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private assignedOnce = false;
  private consecutiveFailures = 0;
  private failuresWithLogReachable = 0;
  private readonly lag: ConsumerLagMonitor;
  /** Set when a commit failed half way: tasks hold state that no commit will ever cover. */
  private tasksCorrupted = false;

  constructor(
    private readonly topology: Topology,
    private readonly log: Log,
    config: StreamsConfig,
  ) {
    super();
    this.config = {
      applicationId: config.applicationId,
      stateDir: config.stateDir,
      commitIntervalMs: config.commitIntervalMs ?? 100,
      maxPollRecords: config.maxPollRecords ?? 5000,
      dlqTopic: config.dlqTopic ?? `${config.applicationId}-dlq`,
      defaultPartitions: config.defaultPartitions ?? 3,
      globalRefreshIntervalMs: config.globalRefreshIntervalMs ?? 200,
      instanceId: config.instanceId ?? randomUUID(),
      maxFailedCommits: config.maxFailedCommits ?? DEFAULT_MAX_FAILED_COMMITS,
    };
    this.metrics = new TopologyMetrics(config.registry ?? new Registry());
    this.logger = config.logger;
    this.lag = new ConsumerLagMonitor(log, this.config.applicationId, this.metrics.lag, this.logger);
  }

  private readonly logger: Logger | undefined;

  get state(): StreamsState {
    return this.currentState;
  }

  get error(): Error | undefined {
    return this.failure;
  }

  async start(): Promise<void> {
    if (this.currentState !== 'CREATED') throw new Error(`cannot start a StreamsApp in state ${this.currentState}`);
    this.currentState = 'STARTING';
    try {
      this.plan = await planTopics(this.topology, this.log, this.config.applicationId, this.config.defaultPartitions);
      for (const topic of this.plan.allTopics) this.knownTopics.add(topic);
      await this.log.ensureTopic(this.config.dlqTopic, { partitions: 1 });
      this.knownTopics.add(this.config.dlqTopic);
      for (const sub of this.plan.subtopologies) {
        for (const topic of this.plan.sourceTopicsOf(sub)) this.subtopologyByTopic.set(topic, sub);
      }
      this.globals = new GlobalStateUpdater(this.log, this.config.applicationId, this.config.stateDir, this.topology.allGlobalStores());
      this.globalStores = await this.globals.start();
      this.producer = await this.log.createTransactionalProducer(`${this.config.applicationId}-${this.config.instanceId}`);
      this.consumer = this.log.createConsumer({ groupId: this.config.applicationId, autoOffsetReset: 'earliest' });
      await this.consumer.subscribe([...this.subtopologyByTopic.keys()], {
        onAssigned: (partitions) => this.duringRebalance(() => this.onAssigned(partitions)),
        onRevoked: (partitions) => this.duringRebalance(() => this.onRevoked(partitions)),
        onLost: (partitions) => this.duringRebalance(() => this.onLost(partitions)),
      });
    } catch (error) {
      // A start that failed (the broker down while topics are planned) leaves nothing open and
      // can be tried again: app/StartSequence.ts retries until the broker answers.
      await this.consumer?.close().catch(() => undefined);
      await this.producer?.close().catch(() => undefined);
      await this.globals?.close().catch(() => undefined);
      this.consumer = undefined;
      this.producer = undefined;
      this.globals = undefined;
      this.globalStores = new Map();
      this.plan = undefined;
      this.knownTopics.clear();
      this.subtopologyByTopic.clear();
      this.currentState = 'CREATED';
      throw error;
    }
    this.currentState = 'RUNNING';
    this.loop = this.runLoop();
    this.logger?.info({ applicationId: this.config.applicationId, tasks: this.tasks.size }, 'topology running');
  }

  /** Commits what is done and stops. Safe to call twice. */
  async close(): Promise<void> {
    if (this.currentState === 'NOT_RUNNING' || this.currentState === 'CREATED') {
      this.currentState = 'NOT_RUNNING';
      return;
    }
    if (this.currentState !== 'ERROR') this.currentState = 'PENDING_SHUTDOWN';
    await this.loop?.catch(() => undefined);
    await this.lag.idle();
    if (this.failure === undefined) await this.commit().catch((error) => this.logger?.error({ err: error }, 'final commit failed'));
    for (const task of this.tasks.values()) await task.close();
    this.tasks.clear();
    await this.consumer?.close();
    await this.producer?.close();
    await this.globals?.close();
    this.currentState = 'NOT_RUNNING';
  }

  /**
   * Resolves once the first partition assignment has been handled: its tasks exist and their
   * stores are restored. Assignment happens inside the consumer's first polls, after start().
   */
  whenAssigned(): Promise<void> {
    if (this.assignedOnce) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.once('error', onError);
      this.once('assigned', () => {
        this.off('error', onError);
        resolve();
      });
    });
  }

  /** Tasks this instance runs, by id. */
  taskIds(): string[] {
    return [...this.tasks.keys()].sort();
  }

  /**
   * Interactive query: the named store of every local task. Keys live in exactly one task, so a
   * point lookup asks each in turn; range reads merge.
   */
  localStores<S extends StateStore>(storeName: string): S[] {
    const global = this.globalStores.get(storeName);
    if (global) return [global as S];
    const stores: S[] = [];
    for (const task of this.tasks.values()) {
      const store = task.stores().get(storeName);
      if (store) stores.push(store as unknown as S);
    }
    return stores;
  }

  /**
   * localStores for interactive queries: throws InvalidStateStoreError (retriable, as Kafka
   * Streams' InvalidStateStoreException) unless the app is RUNNING with no rebalance or restore
   * in progress, so a caller never reads a half-restored store or one being closed.
   */
  queryableStores<S extends StateStore>(storeName: string): S[] {
    if (this.currentState !== 'RUNNING') throw new InvalidStateStoreError(storeName, this.currentState);
    if (this.rebalancesInFlight > 0 || !this.assignedOnce) throw new InvalidStateStoreError(storeName, 'REBALANCING', [...this.restoringStores]);
    return this.localStores<S>(storeName);
  }

  /** Rebalance callbacks running (assign, revoke, lose, task rebuild) and the stores they are restoring. */
  private rebalancesInFlight = 0;
  private readonly restoringStores = new Set<string>();

  private async duringRebalance(work: () => Promise<void>): Promise<void> {
    this.rebalancesInFlight++;
    this.emit('rebalancing');
    try {
      await work();
    } finally {
      this.rebalancesInFlight--;
    }
  }

  describe(): string {
    return this.topology.describe();
  }

  private async runLoop(): Promise<void> {
    const consumer = this.consumer!;
    try {
      while (this.currentState === 'RUNNING') {
        if (this.tasksCorrupted) {
          try {
            await this.recoverTasks();
          } catch (error) {
            await this.backOffOrGiveUp(error, 'rebuilding tasks failed; retrying');
            continue;
          }
        }
        const records = await consumer.poll(this.config.maxPollRecords, Math.min(this.config.commitIntervalMs, 100));
        if (this.currentState !== 'RUNNING') {
          this.route(records);
          this.processBuffered();
          break;
        }
        const busyFrom = performance.now();
        this.route(records);
        this.processBuffered();
        this.metrics.recordProcessing(performance.now() - busyFrom);
        const now = Date.now();
        for (const task of this.tasks.values()) task.punctuateWallClock(now);
        if (now - this.lastGlobalRefreshAt >= this.config.globalRefreshIntervalMs) {
          this.lastGlobalRefreshAt = now;
          // The log may be briefly away (a broker restart): global stores keep what they have
          // and catch up at a later refresh; the topology must not stop over it.
          await this.globals!.refresh().catch((error: unknown) => this.logger?.warn({ err: error }, 'refreshing global stores failed; retrying at the next interval'));
        }
        if (now - this.lastCommitAt >= this.config.commitIntervalMs || this.anyTaskWantsCommit()) await this.commit();
        this.lag.refresh(now, consumer.assignment());
      }
    } catch (error) {
      this.failure = error instanceof Error ? error : new Error(String(error));
      this.currentState = 'ERROR';
      this.logger?.error({ err: this.failure }, 'topology stopped on an error');
      // An 'error' event without a listener would throw out of the process; state and error() tell the same.
      if (this.listenerCount('error') > 0) this.emit('error', this.failure);
    }
  }

  private route(records: LogRecord[]): void {
    if (records.length === 0) return;
    let batchTask: StreamTask | undefined;
    let batch: LogRecord[] = [];
    for (const record of records) {
      const task = this.taskFor(record.topic, record.partition);
      if (task !== batchTask) {
        if (batchTask && batch.length) batchTask.addRecords(batch);
        batchTask = task;
        batch = [];
      }
      batch.push(record);
    }
    if (batchTask && batch.length) batchTask.addRecords(batch);
  }

  private taskFor(topic: string, partition: number): StreamTask {
    const sub = this.subtopologyByTopic.get(topic);
    const task = sub && this.tasks.get(`${sub.id}_${partition}`);
    if (!task) throw new Error(`no task for ${topic}:${partition}; the consumer returned a partition that is not assigned`);
    return task;
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

  /** Serialized: the loop and a rebalance callback may both ask for a commit. */
  commit(): Promise<void> {
    const run = this.commitChain.then(() => this.commitWithRecovery());
    this.commitChain = run.catch(() => undefined);
    return run;
  }

  /**
   * A failed commit has already rebuilt the tasks from the last commit; the loop goes on after a
   * backoff (the log may be briefly away), and gives up only after many failures in a row.
   */
  private async commitWithRecovery(): Promise<void> {
    try {
      if (this.tasksCorrupted) await this.recoverTasks();
      await this.commitNow();
      this.consecutiveFailures = 0;
      this.failuresWithLogReachable = 0;
    } catch (error) {
      await this.backOffOrGiveUp(error, 'commit failed; tasks will be rebuilt from the last commit');
    }
  }

  /**
   * Failures while the log is unreachable are an outage, not a fault: the loop waits for it as
   * long as it lasts (the ingress spools meanwhile; DESIGN.md's target is a 30-minute outage).
   * Only failures with the log answering count towards giving up.
   */
  private async backOffOrGiveUp(error: unknown, message: string): Promise<void> {
    this.consecutiveFailures++;
    const logReachable = await this.log.isHealthy().catch(() => false);
    if (logReachable) this.failuresWithLogReachable++;
    this.metrics.retries.inc({ log: logReachable ? 'reachable' : 'unreachable' });
    this.logger?.warn({ err: error, failures: this.consecutiveFailures, logReachable }, logReachable ? message : `${message} (the log is unreachable; waiting for it)`);
    if (this.failuresWithLogReachable >= this.config.maxFailedCommits) throw error;
    await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_BACKOFF_MS, 50 * 2 ** this.consecutiveFailures)));
  }

  private async recoverTasks(): Promise<void> {
    await this.reinitializeTasks();
    this.tasksCorrupted = false;
  }

  private async commitNow(): Promise<void> {
    this.lastCommitAt = Date.now();
    this.metrics.publish();
    const tasks = [...this.tasks.values()].filter((task) => task.hasUncommittedWork());
    if (tasks.length === 0) return;
    const started = performance.now();
    const records: ProducerRecord[] = [];
    const offsets: TopicPartitionOffset[] = [];
    for (const task of tasks) {
      for (const record of task.drainForCommit()) records.push(record);
      offsets.push(...this.committableOffsets(task));
    }
    await this.ensureTopicsExist(records);
    const transaction = await this.producer!.begin();
    let changelogEnds: Map<string, number>;
    try {
      transaction.produce(records);
      transaction.sendOffsets(this.consumer!, offsets);
      const written = await transaction.commit();
      changelogEnds = new Map();
      for (const meta of written) {
        const key = `${meta.topic}:${meta.partition}`;
        if (meta.offset + 1 > (changelogEnds.get(key) ?? -1)) changelogEnds.set(key, meta.offset + 1);
      }
    } catch (error) {
      this.metrics.commits.inc({ result: 'failed' });
      await transaction.abort().catch(() => undefined);
      // What the tasks held is gone with the aborted transaction: rebuild them from the
      // changelogs and re-read their input from the committed offsets.
      this.tasksCorrupted = true;
      throw error;
    }
    try {
      for (const task of tasks) await task.afterCommit(changelogEnds);
    } catch (error) {
      // The transaction is committed but a store did not take its writes: rebuild the stores
      // from their changelogs, which hold everything committed.
      this.tasksCorrupted = true;
      throw error;
    }
    const durationMs = performance.now() - started;
    this.metrics.commitLatency.observe(durationMs / 1000);
    this.metrics.commits.inc({ result: 'ok' });
    const written = [...changelogEnds].map(([key, offset]) => {
      const colon = key.lastIndexOf(':');
      return { topic: key.slice(0, colon), partition: Number(key.slice(colon + 1)), offset };
    });
    this.emit('commit', { offsets, written, records: records.length, durationMs } satisfies CommitEvent);
  }

  /**
   * A task with nothing buffered commits the consumer's position rather than its last record + 1:
   * on Kafka the position is past the transaction marker that follows the record, so a caught-up
   * group shows lag 0 (Kafka Streams does the same since KAFKA-6607).
   */
  private committableOffsets(task: StreamTask): TopicPartitionOffset[] {
    const offsets = task.offsetsToCommit();
    if (task.buffered() > 0) return offsets;
    return offsets.map((tp) => {
      const position = this.consumer!.position(tp);
      return position !== undefined && position > tp.offset ? { ...tp, offset: position } : tp;
    });
  }

  private async ensureTopicsExist(records: ProducerRecord[]): Promise<void> {
    for (const record of records) {
      if (this.knownTopics.has(record.topic)) continue;
      await this.log.ensureTopic(record.topic, { partitions: this.config.defaultPartitions });
      this.knownTopics.add(record.topic);
    }
  }

  /**
   * Retried with backoff: the log can be briefly away right when partitions arrive (the group
   * rejoins after a broker restart), and a failure here would otherwise leave the consumer's
   * poll, and the topology, with an error. Each attempt keeps the tasks already built.
   */
  private async onAssigned(partitions: TopicPartition[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.assign(partitions);
      } catch (error) {
        if (attempt >= this.config.maxFailedCommits || this.currentState !== 'RUNNING') throw error;
        this.logger?.warn({ err: error, attempt }, 'setting up assigned tasks failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
  }

  private async assign(partitions: TopicPartition[]): Promise<void> {
    const committed = await this.log.committedOffsets(this.config.applicationId, partitions);
    for (const tp of partitions) {
      const sub = this.subtopologyByTopic.get(tp.topic);
      if (!sub) continue;
      const taskId = `${sub.id}_${tp.partition}`;
      let task = this.tasks.get(taskId);
      if (!task) {
        task = await this.createTask(sub, tp.partition);
        this.tasks.set(taskId, task);
      }
      const offset = committed.get(`${tp.topic}:${tp.partition}`);
      if (offset !== undefined) task.setCommittedOffset(tp.topic, offset);
      if (task.inputTopics().length > 1) {
        const end = await this.log.endOffset(tp);
        if (end > (offset ?? (await this.log.beginningOffset(tp)))) task.waitForInput(tp.topic, end, Date.now() + MAX_TASK_CATCH_UP_MS);
      }
    }
    this.metrics.activeTasks.set(this.tasks.size);
    this.assignedOnce = true;
    this.emit('assigned', partitions);
  }

  private async onRevoked(partitions: TopicPartition[]): Promise<void> {
    await this.commit();
    await this.closeTasksOf(partitions);
    this.emit('revoked', partitions);
  }

  /**
   * The session expired and the partitions may already be another member's: a commit would be
   * refused (and is not tried); closing drops what the tasks held since their last commit, which
   * the new owner re-processes from the committed offsets (Kafka Streams' closeDirty).
   */
  private async onLost(partitions: TopicPartition[]): Promise<void> {
    await this.commitChain;
    this.logger?.warn({ partitions: partitions.length }, 'partitions lost with the consumer group session; their uncommitted work is dropped');
    await this.closeTasksOf(partitions);
    this.emit('revoked', partitions);
  }

  private async closeTasksOf(partitions: TopicPartition[]): Promise<void> {
    const taskIds = new Set<string>();
    for (const tp of partitions) {
      const sub = this.subtopologyByTopic.get(tp.topic);
      if (sub) taskIds.add(`${sub.id}_${tp.partition}`);
    }
    for (const taskId of taskIds) {
      await this.tasks.get(taskId)?.close();
      this.tasks.delete(taskId);
    }
    this.metrics.activeTasks.set(this.tasks.size);
  }

  private async createTask(sub: Subtopology, partition: number): Promise<StreamTask> {
    const taskId = `${sub.id}_${partition}`;
    const stores = new Map<string, RuntimeStore>();
    const builders = sub.stores.map((storeName) => this.topology.storeBuilder(storeName));
    const streamTimeBuilder = needsPersistedStreamTime(sub) ? taskStreamTimeStore(sub) : undefined;
    if (streamTimeBuilder) builders.push(streamTimeBuilder);
    for (const builder of builders) {
      const store = builder.build(this.config.applicationId);
      const dir = path.join(this.config.stateDir, this.config.applicationId, taskId);
      let result: Awaited<ReturnType<typeof restoreStore>>;
      this.restoringStores.add(builder.name);
      this.emit('restoring', { task: taskId, store: builder.name });
      try {
        result = await restoreStore(this.log, store, dir, partition);
      } catch (error) {
        this.restoringStores.delete(builder.name);
        // Release the RocksDB locks, so that a retry can open the same directories.
        for (const opened of [store, ...stores.values()]) await opened.close().catch(() => undefined);
        throw error;
      }
      this.metrics.restoredRecords.inc({ store: builder.name }, result.records);
      this.metrics.restoreSeconds.observe({ store: builder.name }, result.durationMs / 1000);
      if (result.records > 0) this.logger?.info({ task: taskId, ...result }, 'store restored from changelog');
      stores.set(builder.name, store);
      this.restoringStores.delete(builder.name);
    }
    return new StreamTask({
      streamTimeStore: streamTimeBuilder?.name,
      applicationId: this.config.applicationId,
      subtopology: sub,
      partition,
      topology: this.topology,
      stores,
      globalStores: this.globalStores,
      dlqTopic: this.config.dlqTopic,
      observer: this.metrics,
    });
  }

  /** After a failed commit: drop every task's uncommitted state and start again from the last commit. */
  private async reinitializeTasks(): Promise<void> {
    const assigned = this.consumer!.assignment();
    for (const task of this.tasks.values()) await task.close();
    this.tasks.clear();
    const committed = await this.log.committedOffsets(this.config.applicationId, assigned);
    for (const tp of assigned) {
      const offset = committed.get(`${tp.topic}:${tp.partition}`) ?? (await this.log.beginningOffset(tp));
      this.consumer!.seek(tp, offset);
    }
    await this.duringRebalance(() => this.onAssigned(assigned));
  }
}

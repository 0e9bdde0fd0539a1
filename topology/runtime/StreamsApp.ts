import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Log, TopicPartition } from '../../log/Log.js';
import type { StateStore } from '../../state/StateStore.js';
import type { Subtopology } from '../Subtopologies.js';
import type { Topology } from '../Topology.js';
import { GlobalStateUpdater } from './GlobalStateUpdater.js';
import { InvalidStateStoreError } from './InvalidStateStoreError.js';
import { resolveStreamsConfig, type CommitEvent, type ResolvedStreamsConfig, type StreamsConfig, type StreamsState } from './StreamsConfig.js';
import { StreamThread, type StreamThreadListener } from './StreamThread.js';
import type { StreamThreadContext } from './StreamThreadContext.js';
import { TopologyMetrics } from './TopologyMetrics.js';
import { planTopics } from './TopicPlanner.js';

export type { CommitEvent, StreamsConfig, StreamsState } from './StreamsConfig.js';

/**
 * The stream runtime's front (Kafka Streams' KafkaStreams): plans the topics, keeps the global
 * stores, starts the stream thread that runs the tasks (StreamThread: the loop; TaskManager: the
 * tasks; TaskCommitter: the exactly-once commit), holds the state machine, and answers
 * interactive queries from the threads' stores.
 *
 * Events: 'rebalancing', 'restoring' ({ task, store }), 'assigned' (partitions), 'revoked'
 * (partitions), 'commit' (CommitEvent), 'error' (Error; only emitted with a listener).
 */
export class StreamsApp extends EventEmitter {
  readonly metrics: TopologyMetrics;
  private readonly config: ResolvedStreamsConfig;
  private readonly logger: Logger | undefined;
  private readonly subtopologyByTopic = new Map<string, Subtopology>();
  private readonly knownTopics = new Set<string>();
  private globals: GlobalStateUpdater | undefined;
  private globalStores = new Map<string, StateStore>();
  private threads: StreamThread[] = [];
  private currentState: StreamsState = 'CREATED';
  private failure: Error | undefined;
  private assignedOnce = false;

  constructor(
    private readonly topology: Topology,
    private readonly log: Log,
    config: StreamsConfig,
  ) {
    super();
    this.config = resolveStreamsConfig(config, randomUUID);
    this.metrics = new TopologyMetrics(config.registry ?? new Registry());
    this.logger = config.logger;
  }

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
      const plan = await planTopics(this.topology, this.log, this.config.applicationId, this.config.defaultPartitions);
      for (const topic of plan.allTopics) this.knownTopics.add(topic);
      await this.log.ensureTopic(this.config.dlqTopic, { partitions: 1 });
      this.knownTopics.add(this.config.dlqTopic);
      for (const sub of plan.subtopologies) {
        for (const topic of plan.sourceTopicsOf(sub)) this.subtopologyByTopic.set(topic, sub);
      }
      this.globals = new GlobalStateUpdater(this.log, this.config.applicationId, this.config.globalStateDir, this.topology.allGlobalStores());
      this.globalStores = await this.globals.start();
      const globals = this.globals;
      // Without global stores there is nothing to refresh: a quiet thread's poll need not wake for it.
      const hasGlobalStores = this.topology.allGlobalStores().length > 0;
      this.threads = [
        await StreamThread.create(this.threadContext(), {
          transactionalId: `${this.config.applicationId}-${this.config.instanceId}`,
          listener: this.threadListener(),
          ...(hasGlobalStores ? { refreshGlobalStores: () => globals.refresh() } : {}),
        }),
      ];
    } catch (error) {
      // A start that failed (the broker down while topics are planned) leaves nothing open and
      // can be tried again: app/StartSequence.ts retries until the broker answers.
      await this.globals?.close().catch(() => undefined);
      this.globals = undefined;
      this.globalStores = new Map();
      this.knownTopics.clear();
      this.subtopologyByTopic.clear();
      this.currentState = 'CREATED';
      throw error;
    }
    this.currentState = 'RUNNING';
    for (const thread of this.threads) thread.start();
    this.logger?.info({ applicationId: this.config.applicationId, tasks: this.taskIds().length }, 'topology running');
  }

  /** Commits what is done and stops. Safe to call twice. */
  async close(): Promise<void> {
    if (this.currentState === 'NOT_RUNNING' || this.currentState === 'CREATED') {
      this.currentState = 'NOT_RUNNING';
      return;
    }
    if (this.currentState !== 'ERROR') this.currentState = 'PENDING_SHUTDOWN';
    for (const thread of this.threads) await thread.shutdown({ commit: this.failure === undefined });
    await this.globals?.close();
    this.currentState = 'NOT_RUNNING';
  }

  /**
   * RUNNING, and every stream thread started up: the tasks of its first assignment set up and
   * their stores restored (or its first poll returned with nothing assigned). Until then events wait
   * in the input topics (Kafka Streams reports REBALANCING). GET /ready asks this.
   */
  get processing(): boolean {
    return this.currentState === 'RUNNING' && this.threads.every((thread) => thread.startedUp);
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
    const ids: string[] = [];
    for (const thread of this.threads) ids.push(...thread.taskManager.tasks.keys());
    return ids.sort();
  }

  /**
   * Interactive query: the named store of every local task. Keys live in exactly one task, so a
   * point lookup asks each in turn; range reads merge.
   */
  localStores<S extends StateStore>(storeName: string): S[] {
    const global = this.globalStores.get(storeName);
    if (global) return [global as S];
    const stores: S[] = [];
    for (const thread of this.threads) {
      for (const task of thread.taskManager.tasks.values()) {
        const store = task.stores().get(storeName);
        if (store) stores.push(store as unknown as S);
      }
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
    const managers = this.threads.map((thread) => thread.taskManager);
    if (!this.assignedOnce || managers.some((tasks) => tasks.rebalancing)) {
      throw new InvalidStateStoreError(storeName, 'REBALANCING', managers.flatMap((tasks) => tasks.restoringStores()));
    }
    return this.localStores<S>(storeName);
  }

  describe(): string {
    return this.topology.describe();
  }

  /** Commits every thread's tasks now (each thread's commits are serialized with its loop's). */
  async commit(): Promise<void> {
    for (const thread of this.threads) await thread.commit();
  }

  private threadContext(): StreamThreadContext {
    return {
      topology: this.topology,
      log: this.log,
      config: this.config,
      metrics: this.metrics,
      logger: this.logger,
      subtopologyByTopic: this.subtopologyByTopic,
      globalStores: this.globalStores,
      knownTopics: this.knownTopics,
    };
  }

  private threadListener(): StreamThreadListener {
    return {
      rebalancing: () => this.emit('rebalancing'),
      restoring: (event) => this.emit('restoring', event),
      assigned: (partitions: TopicPartition[]) => {
        this.assignedOnce = true;
        this.emit('assigned', partitions);
      },
      revoked: (partitions: TopicPartition[]) => this.emit('revoked', partitions),
      tasksChanged: () => this.metrics.activeTasks.set(this.taskIds().length),
      committed: (event: CommitEvent) => this.emit('commit', event),
      failed: (error: Error) => this.onThreadFailed(error),
    };
  }

  /** A thread's loop stopped on an error it does not retry: the app is in ERROR until closed. */
  private onThreadFailed(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.currentState = 'ERROR';
    this.logger?.error({ err: error }, 'topology stopped on an error');
    // An 'error' event without a listener would throw out of the process; state and error() tell the same.
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

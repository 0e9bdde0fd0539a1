import type { LogConsumer, TopicPartition } from '../../log/Log.js';
import type { Subtopology } from '../Subtopologies.js';
import { isFatalLogError } from './FatalLogErrors.js';
import type { StreamThreadContext } from './StreamThreadContext.js';
import type { StreamTask } from './StreamTask.js';
import { RestoringStores, setUpTask, TASK_SETUP_CONCURRENCY, taskIdOf } from './TaskSetup.js';

/**
 * How long a new task with several inputs waits at most for each to be read up to its end
 * (StreamTask.waitForInput). Catch-up normally ends when the consumer's position reaches that
 * end (StreamThread.reportCatchUp), as Kafka Streams waits while it knows an input has data
 * (KIP-695); this only bounds a stall. 10 s was too short on a loaded machine: events were
 * joined against a reference table not yet read and lost their enrichment.
 */
const MAX_TASK_CATCH_UP_MS = 120_000;

/** What the task manager needs from its stream thread, and tells it. */
export interface TaskManagerHooks {
  /** The thread's serialized commit (a revocation commits before the tasks go). */
  commit(): Promise<void>;
  /** Resolves when no commit is in flight (a lost partition's task must not close mid-commit). */
  commitsSettled(): Promise<void>;
  /** False once the thread is shutting down or failed: assignment retries stop. */
  isRunning(): boolean;
  rebalancing(): void;
  restoring(event: { task: string; store: string }): void;
  assigned(partitions: TopicPartition[]): void;
  revoked(partitions: TopicPartition[]): void;
  /** The number of tasks changed (the app sums them over its threads for the active-tasks gauge). */
  tasksChanged(): void;
}

/**
 * One stream thread's tasks (Kafka Streams' TaskManager): creates them with their stores restored
 * when partitions are assigned, commits and closes them on revocation, drops them on loss, and
 * rebuilds them all from the last commit after a commit that failed half way (corrupted tasks).
 * Only the thread's loop and its consumer's rebalance callbacks call in here.
 */
export class TaskManager {
  private readonly byId = new Map<string, StreamTask>();
  private readonly restoring = new RestoringStores();
  private readonly rebalancesInFlight = new Set<Promise<void>>();
  private corrupted = false;
  /** Corrupted, and the tasks closed until the next poll tells whether the session holds (reviveCorrupted). */
  private waitingForGroup = false;
  private assignedOnce = false;

  constructor(
    private readonly context: StreamThreadContext,
    private readonly consumer: LogConsumer,
    private readonly hooks: TaskManagerHooks,
  ) {}

  /** The live map, iterated as is by the processing loop (no copy per poll). */
  get tasks(): ReadonlyMap<string, StreamTask> {
    return this.byId;
  }

  /** True once the first assignment has been handled: its tasks exist and their stores are restored. */
  get hasAssignment(): boolean {
    return this.assignedOnce;
  }

  /** A rebalance callback (assign, revoke, lose, rebuild) is running: stores may be half restored or closing. */
  get rebalancing(): boolean {
    return this.rebalancesInFlight.size > 0;
  }

  /**
   * Resolves when no rebalance callback runs. A poll that fails (the log gone) can leave one
   * running, opening or restoring stores: shutdown waits for it before closing the tasks, so no
   * store is left open behind a closed app.
   */
  async rebalancesSettled(): Promise<void> {
    while (this.rebalancesInFlight.size > 0) await Promise.all([...this.rebalancesInFlight]);
  }

  /** Stores being restored right now, for InvalidStateStoreError's message. */
  restoringStores(): string[] {
    return this.restoring.names();
  }

  /**
   * The task of a polled record; undefined while the tasks are closed waiting for the group
   * (reviveCorrupted): such records lie past the last commit, and are read again from it by
   * whoever rebuilds the task.
   */
  taskFor(topic: string, partition: number): StreamTask | undefined {
    const sub = this.context.subtopologyByTopic.get(topic);
    const task = sub && this.byId.get(taskIdOf(sub, partition));
    if (!task && !this.waitingForGroup) throw new Error(`no task for ${topic}:${partition}; the consumer returned a partition that is not assigned`);
    return task;
  }

  /** A commit failed half way: the tasks hold state that no commit will ever cover. */
  markCorrupted(): void {
    this.corrupted = true;
  }

  get isCorrupted(): boolean {
    return this.corrupted;
  }

  /**
   * Rebuilds corrupted tasks from the last commit (Kafka Streams' handleCorruption). Unless the
   * consumer's group session is not known to hold: a commit also fails when this member was
   * expired from the group, and its old assignment may be another thread's or instance's now
   * (rebuilt here, its stores' locks kept a sibling thread from opening them, CI). Then, as Kafka
   * Streams' handleLostAll, every task is closed without a commit, and the rebuild waits: the
   * next poll learns of the loss and rejoins (handleLost, then handleAssigned with the new
   * assignment), or finds the session held after all and the rebuild follows.
   */
  async reviveCorrupted(): Promise<void> {
    if (!this.corrupted) return;
    if ((await this.consumer.sessionLease?.())?.remainingMs === 0) {
      if (this.byId.size > 0) this.context.logger?.warn({ tasks: this.byId.size }, 'commit failed and the group session is not known to hold: tasks closed, waiting for the group');
      await this.closeAll();
      this.waitingForGroup = true;
      return;
    }
    await this.reinitialize();
    this.corrupted = false;
    this.waitingForGroup = false;
  }

  handleAssigned(partitions: TopicPartition[]): Promise<void> {
    return this.duringRebalance(() => this.assignWithRetry(partitions));
  }

  handleRevoked(partitions: TopicPartition[]): Promise<void> {
    return this.duringRebalance(async () => {
      await this.hooks.commit();
      await this.closeTasksOf(partitions);
      this.hooks.revoked(partitions);
    });
  }

  /**
   * The session expired and the partitions may already be another member's: a commit would be
   * refused (and is not tried); closing drops what the tasks held since their last commit, which
   * the new owner re-processes from the committed offsets (Kafka Streams' closeDirty).
   */
  handleLost(partitions: TopicPartition[]): Promise<void> {
    return this.duringRebalance(async () => {
      await this.hooks.commitsSettled();
      this.context.logger?.warn({ partitions: partitions.length }, 'partitions lost with the consumer group session; their uncommitted work is dropped');
      await this.closeTasksOf(partitions);
      this.hooks.revoked(partitions);
      // Nothing left to rebuild: the tasks of what the group assigns next start from the last commit.
      if (this.byId.size === 0) this.corrupted = this.waitingForGroup = false;
    });
  }

  /** At shutdown, after the final commit; or without a commit, when the session is in doubt (reviveCorrupted). */
  async closeAll(): Promise<void> {
    for (const task of this.byId.values()) await task.close();
    this.byId.clear();
    this.hooks.tasksChanged();
  }

  private async duringRebalance(work: () => Promise<void>): Promise<void> {
    let settle!: () => void;
    const running = new Promise<void>((resolve) => (settle = resolve));
    this.rebalancesInFlight.add(running);
    this.hooks.rebalancing();
    try {
      await work();
    } finally {
      this.rebalancesInFlight.delete(running);
      settle();
    }
  }

  /**
   * Retried with backoff: the log can be away right when partitions arrive (the group rejoins
   * after a broker restart), and a failure here would otherwise leave the consumer's poll, and
   * the topology, with an error. Each attempt keeps the tasks already built. As for commits,
   * only failures with the log answering count towards giving up: an outage is waited out
   * (counting every attempt stopped the topology ~30 s into a broker outage). A log that is gone
   * for good (its server thread ended) is not waited for.
   */
  private async assignWithRetry(partitions: TopicPartition[]): Promise<void> {
    let failuresWithLogReachable = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.assign(partitions);
      } catch (error) {
        if (!this.hooks.isRunning() || isFatalLogError(error)) throw error;
        const logReachable = await this.context.log.isHealthy().catch(() => false);
        if (logReachable && ++failuresWithLogReachable >= this.context.config.maxFailedCommits) throw error;
        this.context.logger?.warn({ err: error, attempt, logReachable }, logReachable ? 'setting up assigned tasks failed; retrying' : 'setting up assigned tasks failed; the log is unreachable, waiting for it');
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
  }

  private async assign(partitions: TopicPartition[]): Promise<void> {
    const { log, config, subtopologyByTopic } = this.context;
    const started = performance.now();
    const committed = await log.committedOffsets(config.applicationId, partitions);
    const created = await this.setUpMissingTasks(partitions);
    if (created === undefined) return;
    for (const tp of partitions) {
      const sub = subtopologyByTopic.get(tp.topic);
      const task = sub && this.byId.get(taskIdOf(sub, tp.partition));
      if (!task) continue;
      const offset = committed.get(`${tp.topic}:${tp.partition}`);
      if (offset !== undefined) task.setCommittedOffset(tp.topic, offset);
      if (task.inputTopics().length > 1) {
        const end = await log.endOffset(tp);
        if (end > (offset ?? (await log.beginningOffset(tp)))) task.waitForInput(tp.topic, end, Date.now() + MAX_TASK_CATCH_UP_MS);
      }
    }
    this.hooks.tasksChanged();
    this.assignedOnce = true;
    if (created > 0) this.context.logger?.info({ created, tasks: this.byId.size, ms: Math.round(performance.now() - started) }, 'assigned tasks set up, their stores restored');
    this.hooks.assigned(partitions);
  }

  /**
   * Sets up the tasks of the partitions that have none yet, TASK_SETUP_CONCURRENCY at a time.
   * Returns how many, or undefined when the thread began shutting down: the tasks left would be
   * closed at once, and the shutdown waits for the poll this assignment runs in. Tasks set up
   * before a failure are kept (a retry does not set them up again) and join the thread's tasks
   * in partition order, whichever finished first.
   */
  private async setUpMissingTasks(partitions: TopicPartition[]): Promise<number | undefined> {
    const missing = new Map<string, { sub: Subtopology; partition: number }>();
    for (const tp of partitions) {
      const sub = this.context.subtopologyByTopic.get(tp.topic);
      if (!sub) continue;
      const taskId = taskIdOf(sub, tp.partition);
      if (!this.byId.has(taskId)) missing.set(taskId, { sub, partition: tp.partition });
    }
    const queue = [...missing];
    const ready = new Map<string, StreamTask>();
    const failures: unknown[] = [];
    let stopped = false;
    const setUpNext = async (): Promise<void> => {
      for (let next = queue.shift(); next && failures.length === 0; next = queue.shift()) {
        if (!this.hooks.isRunning()) {
          stopped = true;
          return;
        }
        const [taskId, { sub, partition }] = next;
        try {
          ready.set(taskId, await setUpTask(this.context, sub, partition, { restoring: this.restoring, onRestoring: (event) => this.hooks.restoring(event) }));
        } catch (error) {
          failures.push(error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(TASK_SETUP_CONCURRENCY, queue.length) }, setUpNext));
    for (const taskId of missing.keys()) {
      const task = ready.get(taskId);
      if (task) this.byId.set(taskId, task);
    }
    if (failures.length > 0) throw failures[0];
    return stopped ? undefined : ready.size;
  }

  private async closeTasksOf(partitions: TopicPartition[]): Promise<void> {
    const taskIds = new Set<string>();
    for (const tp of partitions) {
      const sub = this.context.subtopologyByTopic.get(tp.topic);
      if (sub) taskIds.add(taskIdOf(sub, tp.partition));
    }
    for (const taskId of taskIds) {
      await this.byId.get(taskId)?.close();
      this.byId.delete(taskId);
    }
    this.hooks.tasksChanged();
  }

  /** After a failed commit: drop every task's uncommitted state and start again from the last commit. */
  private async reinitialize(): Promise<void> {
    const { log, config } = this.context;
    const assigned = this.consumer.assignment();
    for (const task of this.byId.values()) await task.close();
    this.byId.clear();
    const committed = await log.committedOffsets(config.applicationId, assigned);
    for (const tp of assigned) {
      const offset = committed.get(`${tp.topic}:${tp.partition}`) ?? (await log.beginningOffset(tp));
      this.consumer.seek(tp, offset);
    }
    await this.handleAssigned(assigned);
  }
}

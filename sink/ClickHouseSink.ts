import type { Logger } from 'pino';
import { DEFAULT_DLQ_TOPIC } from '../config/index.js';
import { partitionKey, type Log, type LogConsumer, type LogRecord, type TopicPartition } from '../log/Log.js';
import type { AnalyticsStore } from './AnalyticsStore.js';
import type { ClickHouseSinkOptions, SinkRoute } from './ClickHouseSinkOptions.js';
import { BatchWriter } from './BatchWriter.js';
import { PartitionBatcher, type Batch } from './PartitionBatcher.js';
import { planRounds, type PlannedRound } from './RoundPlan.js';
import { RoundWriteError, RoundWriter, SessionLapsedError } from './RoundWriter.js';
import { SinkBatchLog } from './SinkBatchLog.js';
import { SinkCommitter } from './SinkCommitter.js';
import { SinkHealth } from './SinkHealth.js';
import { reportSinkLag } from './SinkLag.js';
import { SinkMetrics } from './SinkMetrics.js';
import { PartitionSetup } from './PartitionSetup.js';
import { PollOrFlushEnd } from './PollOrFlushEnd.js';

/** How soon a round held back for the group session is tried again (a poll must also answer first). */
const SESSION_DOUBT_RETRY_MS = 250;
/** How often a round waiting for a member's records asks the log whether retention removed them. */
const EXPIRED_MEMBER_CHECK_MS = 1000;

export type { ClickHouseSinkOptions, SinkBatchInfo, SinkRoute } from './ClickHouseSinkOptions.js';

/**
 * Writes topics into ClickHouse tables with exactly-once effect: each flush round writes the
 * batches of all due partitions as one block per table (SinkRound.ts: an insert costs about the
 * same whatever its rows), with insert_deduplication_token naming every batch of the round, and
 * commits their offsets only after ClickHouse acknowledged. A crash between insert and commit
 * replays the round; SinkBatchLog makes the replay cut the same batches and combine them the
 * same way, so the token matches and the tables (and, through
 * deduplicate_blocks_in_dependent_materialized_views, the materialized views) drop the repeated
 * blocks.
 *
 * While ClickHouse fails, the sink keeps its pending batches, pauses every partition (input stays
 * in the log, memory stays bounded), retries with exponential backoff and reports not ready
 * (SinkHealth).
 * A row ClickHouse refuses for its data does not stop it: the refused rows are isolated, the
 * rest inserted, and their records go to the DLQ in one log transaction with the offset commit
 * (BatchWriter, PoisonIsolation, SinkCommitter).
 */
export class ClickHouseSink {
  readonly groupId: string;
  private readonly log: Log;
  private readonly store: AnalyticsStore;
  private readonly routes: Map<string, SinkRoute[]>;
  private readonly maxBatchRecords: number;
  private readonly maxBatchBytes: number;
  private readonly lingerMs: number;
  private readonly logger?: Logger;
  private readonly metrics: SinkMetrics;
  private readonly cuts: SinkBatchLog;
  private readonly rounds: RoundWriter;
  private readonly committer: SinkCommitter;
  private readonly health: SinkHealth;
  private readonly setup: PartitionSetup;
  private readonly work = new Map<string, PartitionBatcher>();
  private consumer: LogConsumer | null = null;
  private loop: Promise<void> | null = null;
  private running = false;
  /** stop() was called: a flush ends after its current round (a safe point: written rounds are committed, the rest replays at the next start). */
  private stopping = false;
  private paused = new Set<string>();
  private flushing: Promise<void> | null = null;
  private readonly flushEnd = new PollOrFlushEnd();
  /** The last flush left a recorded round waiting for records of a partition not polled yet. */
  private waitingForRecords = false;
  /** No earlier than this (ms since epoch) does a waiting round ask the log again (skipExpiredMembers). */
  private expiredCheckAt = 0;
  /** A round was held back because the group session was not known to hold: no flush until a poll has answered (it learns of a loss). */
  private sessionInDoubt = false;
  /** And no flush before this (ms since epoch): a doubt that lasts is asked about at this pace, not in a loop. */
  private sessionDoubtUntil = 0;

  constructor(options: ClickHouseSinkOptions) {
    this.log = options.log;
    this.store = options.store;
    this.groupId = options.groupId ?? 'clickhouse-sink';
    this.routes = new Map();
    for (const route of options.routes) {
      const list = this.routes.get(route.topic) ?? [];
      list.push(route);
      this.routes.set(route.topic, list);
    }
    if (this.routes.size === 0) throw new Error('ClickHouseSink needs at least one route');
    this.maxBatchRecords = options.maxBatchRecords ?? 10_000;
    this.maxBatchBytes = options.maxBatchBytes ?? Infinity;
    this.lingerMs = options.lingerMs ?? 200; // the SINK_BATCH_LINGER default (SinkConfig.ts)
    this.logger = options.logger;
    this.metrics = new SinkMetrics(options.registry, this.groupId);
    this.health = new SinkHealth({
      retryInitialMs: options.retryInitialMs ?? 100,
      retryMaxMs: options.retryMaxMs ?? 30_000,
      healthCheckIntervalMs: options.healthCheckIntervalMs ?? 5_000,
      metrics: this.metrics,
      logger: this.logger,
    });
    this.cuts = new SinkBatchLog(this.store, this.groupId);
    const writer = new BatchWriter({ store: this.store, groupId: this.groupId, metrics: this.metrics, logger: this.logger, onIsolationStep: options.onIsolationStep });
    this.rounds = new RoundWriter({
      log: this.log, cuts: this.cuts, writer, routes: this.routes, maxReadRecords: this.maxBatchRecords, onBatchInserted: options.onBatchInserted,
      sessionLease: (lease) => this.consumer?.sessionLease?.(lease) ?? Promise.resolve({ remainingMs: Infinity, epoch: 0 }),
    });
    this.setup = new PartitionSetup({
      log: this.log, groupId: this.groupId, cuts: this.cuts, work: this.work, logger: this.logger,
      batcher: (tp, committed) => new PartitionBatcher(tp, committed, this.maxBatchRecords, this.lingerMs, this.maxBatchBytes),
      fail: (what, error) => this.fail(what, error),
      contact: () => this.health.contact(),
    });
    this.committer = new SinkCommitter(this.log, this.groupId, options.deadLetterTopic ?? DEFAULT_DLQ_TOPIC, this.metrics, this.logger);
  }

  /** Subscribes and starts the poll → batch → insert → commit loop in the background. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.health.contact();
    if (await this.store.ping()) this.health.setReady(true);
    else this.fail('ping', new Error('ClickHouse does not answer'));
    try {
      this.consumer = this.log.createConsumer({ groupId: this.groupId, autoOffsetReset: 'earliest' });
      await this.subscribe(this.consumer);
    } catch (error) {
      this.running = false;
      this.health.setReady(false);
      await this.consumer?.close().catch(() => undefined);
      this.consumer = null;
      throw error;
    }
    this.loop = this.run().catch((error: unknown) => {
      this.logger?.error({ err: error }, 'ClickHouse sink loop stopped');
      this.running = false;
      this.health.setReady(false);
    });
  }

  private async subscribe(consumer: LogConsumer): Promise<void> {
    await consumer.subscribe([...this.routes.keys()], {
      onAssigned: (tps) => this.setup.assigned(tps),
      onRevoked: async (tps) => {
        // A write in flight finishes (and commits) first. Uncommitted work is then dropped, not
        // flushed: the next owner replays it from the committed offset and finds the recorded
        // cuts, so it rebuilds the very same batches.
        await this.flushing;
        for (const tp of tps) this.work.delete(partitionKey(tp));
      },
    });
  }

  /**
   * True while ClickHouse answered the last operation (or the last health ping) and the sink is
   * not backing off. For /ready.
   */
  isReady(): boolean {
    return this.running && !this.health.failing;
  }

  status(): { ready: boolean; failing: boolean; lastError: string | null; partitions: number; buffered: number } {
    let buffered = 0;
    for (const w of this.work.values()) buffered += w.buffer.length + (w.pending?.records.length ?? 0);
    return { ready: this.isReady(), failing: this.health.failing, lastError: this.health.lastError, partitions: this.work.size, buffered };
  }

  /**
   * Stops the loop; with flush (default) writes one more round of what is buffered first (all of
   * it in steady traffic: the fresh cuts of every partition make one round), if ClickHouse
   * answers. Bounded whatever the backlog: a flush in flight ends after its current round, and
   * the final flush writes one round (at most SINK_BATCH_MAX_ROWS records, RoundPlan.ts); the
   * rest stays in the log for the next start. Never rejects: the store is closed after this
   * (StartAnalytics), and a store left open would have its thread end with chDB's connection
   * still open.
   */
  async stop(options: { flush?: boolean } = {}): Promise<void> {
    if (!this.running && !this.loop) return;
    const began = Date.now();
    this.stopping = true;
    this.running = false;
    await this.loop;
    this.loop = null;
    const loopMs = Date.now() - began;
    const { buffered } = this.status();
    if (options.flush !== false && !this.health.failing) {
      try {
        await this.flushDue(true);
      } catch (error) {
        this.logger?.warn({ err: error }, 'ClickHouse sink: final flush failed; the log keeps the records');
      }
    }
    const flushMs = Date.now() - began - loopMs;
    try {
      await this.consumer?.close();
      await this.committer.close();
    } catch (error) {
      this.logger?.error({ err: error }, 'ClickHouse sink: closing its consumer failed; the last commit stands');
    }
    this.consumer = null;
    this.stopping = false;
    this.health.setReady(false);
    this.logger?.info({ ms: Date.now() - began, loopMs, flushMs, buffered }, 'ClickHouse sink stopped');
  }

  /**
   * Polling goes on while a flush is in flight: the next batches are read and buffered while
   * ClickHouse works on the current ones (its inserts run off the event loop). Only one flush
   * runs at a time, so batches of a partition are written and committed in order.
   *
   * While a flush runs, the loop waits for whichever comes first, the poll's records or the
   * flush's end (PollOrFlushEnd), and keeps an unanswered poll for the next turn. It used to poll with a 5 ms
   * timeout instead, to notice the flush's end soon: ~100 polls a second while inserts ran, each
   * a round trip to the log thread (bench/service-cpu-split.ts).
   */
  private async run(): Promise<void> {
    const consumer = this.consumer!;
    let polling: Promise<LogRecord[]> | null = null;
    while (this.running) {
      if (!polling) {
        const now = Date.now();
        const waitMs = this.health.failing ? this.health.retryAt - now : this.nextDeadline(now) - now;
        // In doubt about the session, a batch past its deadline must not turn the wait for the
        // group's answer into a loop of 1 ms polls and refused rounds.
        const minWaitMs = Math.max(1, this.sessionDoubtUntil - now);
        polling = consumer.poll(this.maxBatchRecords, Math.max(minWaitMs, Math.min(waitMs, this.lingerMs)));
      }
      const records = this.flushing ? await this.flushEnd.wait(polling) : await polling;
      if (records) {
        polling = null;
        this.sessionInDoubt = false;
        for (const record of records) this.buffer(record);
      }
      if (this.flushing || this.health.backingOff() || this.sessionInDoubt || Date.now() < this.sessionDoubtUntil) continue;
      // The flush ended before the poll answered: another one only for a batch due now, else
      // back to waiting for the poll (a flush of nothing would just come round again at once).
      if (!records && !this.batchDue(Date.now())) continue;
      this.flushing = this.flushDue(false)
        .then(() => this.healthCheck())
        .then(() => reportSinkLag(this.log, this.consumer, this.work.values(), this.metrics))
        .catch((error: unknown) => this.logger?.error({ err: error }, 'ClickHouse sink flush failed unexpectedly'))
        .finally(() => {
          this.flushing = null;
          this.flushEnd.flushEnded();
        });
    }
    // The last poll's records are buffered too: stop() flushes what is buffered.
    if (polling) for (const record of await polling) this.buffer(record);
    await this.flushing;
  }

  /**
   * Work for a flush now: a batch cut and not written yet (unless its round waits for records
   * not polled yet), one due (PartitionBatcher.due), cuts to load.
   */
  private batchDue(now: number): boolean {
    for (const work of this.work.values()) {
      if (!work.cuts) return true;
      if (work.pending ? !this.waitingForRecords : work.due(now)) return true;
    }
    return this.waitingForRecords && now >= this.expiredCheckAt;
  }

  /**
   * A round waits for a member held here whose records have not come. They may never come: the
   * sink was down past the topic's retention and the partition gets nothing new. Asks the log
   * where those partitions begin (at most once per EXPIRED_MEMBER_CHECK_MS); a member whose
   * records are gone is cut empty (PartitionBatcher.logStartsAt). True when one was.
   */
  private async skipExpiredMembers(): Promise<boolean> {
    const now = Date.now();
    if (now < this.expiredCheckAt) return false;
    this.expiredCheckAt = now + EXPIRED_MEMBER_CHECK_MS;
    const awaiting = [...this.work.values()].filter((work) => work.awaitedCut());
    if (awaiting.length === 0) return false;
    // Unanswered (the log is down), the round keeps waiting: asked again at the next check.
    const beginnings = await this.log.beginningOffsets(awaiting.map((work) => work.tp)).catch(() => new Map<string, number>());
    let skipped = false;
    for (const work of awaiting) {
      const beginning = beginnings.get(partitionKey(work.tp));
      if (beginning !== undefined) work.logStartsAt(beginning);
      skipped ||= work.due(now);
    }
    return skipped;
  }

  private buffer(record: LogRecord): void {
    this.waitingForRecords = false;
    const work = this.work.get(partitionKey(record));
    if (!work) return; // revoked meanwhile; the next owner reads it again
    if (work.add(record, Date.now()) && work.overfull()) this.pause([work.tp]);
  }

  private nextDeadline(now: number): number {
    let deadline = now + this.lingerMs;
    for (const work of this.work.values()) deadline = Math.min(deadline, work.deadline() ?? deadline);
    return deadline;
  }

  private cut(work: PartitionBatcher, now: number, force: boolean): Batch | null {
    const batch = work.cut(now, force);
    if (batch && !work.overfull() && !this.health.failing) this.resume([work.tp]);
    return batch;
  }

  /**
   * Writes every due batch, then commits the offsets of those ClickHouse acknowledged. In rounds:
   * cut one batch per partition, plan them into rounds (RoundPlan.ts: the fresh cuts make one
   * round, recorded ones replay their own), record each new round in one insert, write each
   * round as one block per table, commit. Further rounds only while some partition still holds a
   * full batch (catching up).
   */
  private async flushDue(force: boolean): Promise<void> {
    if (this.health.backingOff()) return;
    const contactBefore = this.health.lastContactAt;
    await this.setup.loadCuts();
    await this.commit(); // what an earlier failed commit left
    let failed = [...this.work.values()].some((work) => !work.cuts);
    this.waitingForRecords = false;
    for (let round = 0; !failed; round++) {
      const due: PartitionBatcher[] = [];
      for (const work of this.work.values()) {
        if (!work.cuts) continue;
        work.pending ??= this.cut(work, Date.now(), force);
        if (work.pending && (round === 0 || force || work.pending.full || work.pending.round !== null)) due.push(work);
      }
      // A round costs one insert per table whatever its rows, so once one is due every partition
      // holding records joins it, before its own linger runs out (else the partitions' lingers
      // drift apart and each would make rounds of its own).
      if (due.length > 0) {
        const joining = new Set(due);
        for (const work of this.work.values()) {
          if (!work.cuts || joining.has(work)) continue;
          work.pending ??= this.cut(work, Date.now(), true);
          if (work.pending) due.push(work);
        }
      }
      const { ready, waiting } = planRounds(due, this.work, { maxRecords: this.maxBatchRecords, maxBytes: this.maxBatchBytes });
      this.waitingForRecords = waiting;
      if (ready.length === 0) {
        if (waiting && (await this.skipExpiredMembers())) continue;
        break;
      }
      for (const planned of ready) {
        if (!(await this.writeRound(planned))) {
          failed = true;
          break;
        }
        // Stopping, a flush ends after a round (the final one too): the rounds written are
        // committed, the rest is recorded or still in the log and replays at the next start, as
        // after a crash between rounds. Else stop() would wait for the whole backlog.
        if (this.stopping) break;
      }
      await this.commit();
      if (this.stopping) break;
    }
    if (failed || !this.health.failing) return;
    // Recover only on proof that ClickHouse answers: with nothing to write, ask it.
    if (this.health.lastContactAt === contactBefore) {
      this.health.contact();
      if (!(await this.store.ping())) {
        this.fail('ping', new Error('ClickHouse does not answer'));
        return;
      }
    }
    this.recover();
  }

  /** One round (RoundWriter); false when ClickHouse failed: the sink backs off, the batches stay pending with their round. */
  private async writeRound(planned: PlannedRound): Promise<boolean> {
    try {
      await this.rounds.write(planned);
      this.health.contact();
      return true;
    } catch (error) {
      if (error instanceof SessionLapsedError) {
        // Not ClickHouse's failure: the next poll says whether the partitions are still ours.
        this.logger?.warn({ err: error }, 'ClickHouse sink: group session not confirmed; round held back until the next poll');
        this.sessionInDoubt = true;
        this.sessionDoubtUntil = Date.now() + SESSION_DOUBT_RETRY_MS;
      } else if (error instanceof RoundWriteError) this.fail(error.stage, error.cause);
      else this.fail('batch', error);
      return false;
    }
  }

  private async commit(): Promise<void> {
    if (this.consumer) await this.committer.commitWritten(this.consumer, this.work.values());
  }

  /** ClickHouse failed: every partition pauses (input stays in the log) until it answers again. */
  private fail(what: string, error: unknown): void {
    this.health.fail(what, error);
    this.pause([...this.work.values()].map((w) => w.tp));
  }

  private recover(): void {
    this.health.recover();
    this.resume([...this.work.values()].filter((w) => !w.overfull()).map((w) => w.tp));
  }

  private async healthCheck(): Promise<void> {
    if (!this.health.pingDue()) return;
    this.health.contact();
    if (!(await this.store.ping())) this.fail('ping', new Error('ClickHouse does not answer'));
  }

  private pause(tps: TopicPartition[]): void {
    const fresh = tps.filter((tp) => !this.paused.has(partitionKey(tp)));
    if (fresh.length === 0 || !this.consumer) return;
    for (const tp of fresh) this.paused.add(partitionKey(tp));
    this.consumer.pause(fresh);
  }

  private resume(tps: TopicPartition[]): void {
    const held = tps.filter((tp) => this.paused.has(partitionKey(tp)));
    if (held.length === 0 || !this.consumer) return;
    for (const tp of held) this.paused.delete(partitionKey(tp));
    this.consumer.resume(held);
  }
}

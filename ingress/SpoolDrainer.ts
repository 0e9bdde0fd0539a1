import type { Logger } from 'pino';
import type { Log, ProducerRecord } from '../log/Log.js';
import type { CircuitBreaker } from './CircuitBreaker.js';
import type { DiskSpool } from './DiskSpool.js';
import { findLandedCopies, type LandedCopiesOptions, recordFingerprint } from './LandedCopies.js';
import { ProduceTimeoutError, type TimedProducer } from './TimedProducer.js';

export interface SpoolDrainerOptions {
  log: Log;
  spool: DiskSpool;
  breaker: CircuitBreaker;
  logger: Logger;
  /** Records per drain batch. */
  drainBatchRecords?: number;
  onDrained?: (records: number) => void;
  onProduceError?: (error: Error) => void;
  /** Where drained records a healthy log keeps refusing are parked (with dlq_reason). */
  dlqTopic?: string;
  /**
   * A timed-out produce was found to have landed after all, so its records were not sent again:
   * a write's produce (its records had been spooled) or one of the drainer's batches.
   */
  onLandedLate?: (records: number, by: 'write' | 'drain' | 'restart') => void;
  /**
   * Before replaying a spool recovered at start, look for its first records in the landing
   * topics' tails (LandedCopies), so a produce that landed just before a crash is not written
   * again. Default on; false replays everything (at-least-once across a crash).
   */
  checkLandedOnRecovery?: boolean | LandedCopiesOptions;
}

/** Consecutive failed drains of one batch, with the log reporting healthy, before isolating a poison record. */
const POISON_AFTER_FAILURES = 5;

/**
 * Moves the spool's records to the log, oldest first, one batch at a time, and never twice: an
 * entry whose write timed out waits for that produce's late outcome and is only acknowledged if
 * it landed; the drainer's own timed-out batches likewise; a spool recovered after a crash is
 * first looked for in the landing topics (LandedCopies). A batch a healthy log keeps refusing
 * has its poison record isolated into the DLQ rather than blocking the spool forever.
 */
export class SpoolDrainer {
  private draining: Promise<void> | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private readonly drainBatchRecords: number;
  /**
   * Waits cut short when stop() begins (a late produce must not hold up shutdown). A set rather
   * than one promise everyone races against: that would keep a reaction per wait until stop.
   */
  private readonly stopListeners = new Set<() => void>();
  /** Entries recovered from disk at start still to drain, whose records may have landed before a crash. */
  private recoveredEntries = 0;
  /** Fingerprints of recovered records found in the log; null until searched. */
  private landedBeforeRestart: Set<string> | null = null;

  constructor(
    private readonly options: SpoolDrainerOptions,
    private readonly producer: TimedProducer,
    /** The writes in flight settled: a failing one adds to the spool, so draining starts after. */
    private readonly whenWritesSettled: () => Promise<void>,
  ) {
    this.drainBatchRecords = options.drainBatchRecords ?? 5000;
    if (options.checkLandedOnRecovery !== false) this.recoveredEntries = options.spool.entries;
  }

  get isDraining(): boolean {
    return this.draining !== null;
  }

  start(): void {
    if (this.draining || this.stopped) return;
    this.draining = this.drainLoop().finally(() => {
      this.draining = null;
      // An append may have landed between the last ack and the end of the loop.
      if (!this.stopped && !this.options.spool.isEmpty()) this.start();
    });
  }

  /** Resolves when the spool is drained or after deadlineMs, whichever comes first. */
  async drainedWithin(deadlineMs: number): Promise<void> {
    if (this.draining) await Promise.race([this.draining, new Promise((resolve) => setTimeout(resolve, deadlineMs).unref())]);
  }

  /** Stops after the batch in hand; waits on late outcomes are cut short (their entries stay spooled). */
  stop(): void {
    this.stopped = true;
    for (const listener of [...this.stopListeners]) listener();
    this.wake?.();
  }

  /** Resolves once the drain loop has ended (after stop(), or with the spool empty). */
  async finished(): Promise<void> {
    if (this.draining) await this.draining;
  }

  /** The late outcome, or false at once when stop() begins (the entry then stays in the spool). */
  private async awaitLanded(landed: Promise<boolean>): Promise<boolean> {
    return (await this.untilStopped(landed)) === true;
  }

  /** The promise's value, or false as soon as stop() begins. */
  private untilStopped<T>(promise: Promise<T>): Promise<T | false> {
    if (this.stopped) return Promise.resolve(false);
    return new Promise<T | false>((resolve, reject) => {
      const onStop = () => {
        this.stopListeners.delete(onStop);
        resolve(false);
      };
      this.stopListeners.add(onStop);
      promise.then(
        (value) => {
          this.stopListeners.delete(onStop);
          resolve(value);
        },
        (error: unknown) => {
          this.stopListeners.delete(onStop);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      timer.unref();
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  private async drainLoop(): Promise<void> {
    const { spool, breaker, logger } = this.options;
    let backoffMs = 100;
    let failures = 0;
    await this.whenWritesSettled();
    while (!this.stopped) {
      await spool.whenFlushed();
      if (spool.entries === 0) {
        if (spool.isEmpty()) return;
        continue;
      }
      const batch = await spool.peek(this.drainBatchRecords);
      if (batch.landed) {
        // A write that timed out: its produce may have landed meanwhile. Decide before sending it
        // or anything behind it (order), and never send it twice (exactly once).
        const landed = await this.awaitLanded(batch.landed);
        if (this.stopped) return;
        if (landed) {
          await this.ackDrained(batch.entries);
          this.options.onLandedLate?.(batch.records.length, 'write');
          this.options.onDrained?.(batch.records.length);
          continue;
        }
        spool.forgetLanded();
      }
      if (!breaker.tryAcquire()) {
        await this.sleep(Math.max(50, breaker.remainingOpenMs()));
        continue;
      }
      let records = batch.records;
      if (this.recoveredEntries > 0) {
        try {
          records = await this.withoutLandedBeforeRestart(records);
        } catch (error) {
          breaker.failure();
          this.options.onProduceError?.(error as Error);
          logger.warn({ err: error }, 'spool drain: could not read the landing topic to check the recovered spool; retrying');
          await this.sleep(backoffMs);
          backoffMs = Math.min(backoffMs * 2, 5000);
          continue;
        }
        if (this.stopped) return;
        if (records.length < batch.records.length) {
          this.options.onLandedLate?.(batch.records.length - records.length, 'restart');
          if (records.length === 0) {
            breaker.success();
            await this.ackDrained(batch.entries);
            this.options.onDrained?.(batch.records.length);
            continue;
          }
        }
      }
      try {
        await this.producer.produce(records);
      } catch (error) {
        // Timed out: the batch is still in flight. Retrying now would land it twice if it then
        // succeeds, so wait for its answer (bounded by lateProduceWaitMs) and keep it if it landed.
        if (error instanceof ProduceTimeoutError && (await this.awaitLanded(error.landed))) {
          breaker.failure();
          this.options.onProduceError?.(error);
          this.options.onLandedLate?.(batch.records.length, 'drain');
          failures = 0;
          await this.ackDrained(batch.entries);
          this.options.onDrained?.(batch.records.length);
          continue;
        }
        breaker.failure();
        this.options.onProduceError?.(error as Error);
        logger.debug({ err: error }, 'spool drain: log still failing');
        if (this.stopped) return;
        // A timeout is not a refusal (here: it failed late, or had not answered within
        // lateProduceWaitMs, and may still land: at-least-once), so it never counts towards poison isolation.
        if (!(error instanceof ProduceTimeoutError)) failures++;
        // A log that says it is healthy yet keeps refusing this batch: some record in it is
        // poison (e.g. too large for the broker). Isolate it rather than block the spool forever.
        if (failures >= POISON_AFTER_FAILURES && (await this.options.log.isHealthy().catch(() => false))) {
          if (await this.isolatePoison(records)) {
            failures = 0;
            await this.ackDrained(batch.entries);
            this.options.onDrained?.(batch.records.length);
            continue;
          }
        }
        await this.sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 5000);
        continue;
      }
      breaker.success();
      failures = 0;
      backoffMs = 100;
      await this.ackDrained(batch.entries);
      this.options.onDrained?.(batch.records.length);
    }
  }

  private async ackDrained(entries: number): Promise<void> {
    await this.options.spool.ack(entries);
    if (this.recoveredEntries > 0) {
      this.recoveredEntries = Math.max(0, this.recoveredEntries - entries);
      if (this.recoveredEntries === 0) this.landedBeforeRestart = null;
    }
  }

  /**
   * The batch without the records found in the landing topics: searched once, for the first
   * drainBatchRecords recovered records (what can have been in flight at a crash: the drain batch
   * and the timed-out writes, which queue everything behind them).
   */
  private async withoutLandedBeforeRestart(records: ProducerRecord[]): Promise<ProducerRecord[]> {
    if (!this.landedBeforeRestart) {
      const first = await this.options.spool.peek(this.drainBatchRecords);
      const check = this.options.checkLandedOnRecovery;
      const found = await this.untilStopped(findLandedCopies(this.options.log, first.records, typeof check === 'object' ? check : {}));
      if (found === false) return records;
      this.landedBeforeRestart = found;
      this.recoveredEntries = Math.min(this.recoveredEntries, first.entries);
      if (found.size > 0) this.options.logger.warn({ records: found.size }, 'recovered spool: records already in the landing topic are not sent again');
    }
    const landed = this.landedBeforeRestart;
    if (landed.size === 0) return records;
    return records.filter((r) => !landed.has(recordFingerprint(r.topic, r.key, r.value, r.timestamp)));
  }

  /**
   * Produces the batch record by record, in order; a record the log still refuses goes to the
   * DLQ with the reason. False when even that fails (the batch then stays in the spool).
   */
  private async isolatePoison(records: ProducerRecord[]): Promise<boolean> {
    const { dlqTopic, logger } = this.options;
    if (!dlqTopic) return false;
    for (const record of records) {
      try {
        await this.producer.produce([record]);
      } catch (error) {
        if (error instanceof ProduceTimeoutError) {
          // Landed late: on to the next record. Otherwise the batch stays in the spool and is
          // retried whole (timed out, not refused).
          if (await this.awaitLanded(error.landed)) continue;
          return false;
        }
        const reason = error instanceof Error ? error.message : String(error);
        logger.error({ err: error, topic: record.topic }, 'spool drain: record refused by a healthy log; sent to the DLQ');
        try {
          await this.producer.produce([
            {
              topic: dlqTopic,
              key: record.key,
              value: record.value,
              headers: { ...record.headers, dlq_reason: reason, dlq_timestamp: new Date().toISOString(), original_topic: record.topic },
              timestamp: record.timestamp,
            },
          ]);
        } catch {
          return false;
        }
      }
    }
    return true;
  }
}

import type { Logger } from 'pino';
import type { Log, ProducerRecord, RecordMetadata } from '../log/Log.js';
import type { CircuitBreaker } from './CircuitBreaker.js';
import type { DiskSpool } from './DiskSpool.js';
import { findLandedCopies, type LandedCopiesOptions, recordFingerprint } from './LandedCopies.js';

export interface WriteResult {
  /** True when the records were fsynced to the disk spool instead of acknowledged by the log. */
  spooled: boolean;
  /** Per record, when written to the log directly. */
  metadata?: RecordMetadata[];
}

export interface LandingWriterOptions {
  log: Log;
  spool: DiskSpool;
  breaker: CircuitBreaker;
  logger: Logger;
  produceTimeoutMs: number;
  /** Records per drain batch. */
  drainBatchRecords?: number;
  onSpooled?: (records: number) => void;
  onDrained?: (records: number) => void;
  onProduceError?: (error: Error) => void;
  /** Where drained records a healthy log keeps refusing are parked (with dlq_reason). */
  dlqTopic?: string;
  /** Creates the topics written to; retried before the next produce after any failure. */
  prepareTopics?: () => Promise<void>;
  /**
   * How long the drainer waits, from the start of a produce that timed out, for it to answer
   * before sending its records again (at-least-once past it). Only a safety net: both logs settle
   * every produce by themselves (embedded: always; Kafka: KAFKA_PRODUCER_TIMEOUT, default 30 s,
   * retries included). Default 120 s.
   */
  lateProduceWaitMs?: number;
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

const DEFAULT_LATE_PRODUCE_WAIT_MS = 120_000;

/** Consecutive failed drains of one batch, with the log reporting healthy, before isolating a poison record. */
const POISON_AFTER_FAILURES = 5;

class ProduceTimeoutError extends Error {
  constructor(
    ms: number,
    /**
     * The produce is still in flight and may yet land: resolves true when it does, false when it
     * fails, or false once the wait bound (lateProduceWaitMs from its start) has passed.
     */
    readonly landed: Promise<boolean>,
  ) {
    super(`log.produce did not answer within ${ms} ms`);
    this.name = 'ProduceTimeoutError';
  }
}

/**
 * Everything the ingress writes goes through here, so order and durability are decided in
 * one place:
 * - Each request's records go to log.produce at once; the log coalesces concurrent calls
 *   (the embedded log writes every call of one event-loop turn as one RocksDB batch; Kafka's
 *   producer batches per partition), so there is no second queue here adding latency.
 * - The breaker guards log.produce; a failed or refused produce sends the records to the spool
 *   (fsynced before the caller's 2xx).
 * - Order: once anything is in the spool, new writes queue behind it in the spool until the
 *   drainer has moved it all to the log, oldest first. A request sent after an earlier one was
 *   answered therefore never overtakes it. (Requests in flight at the same time have no order
 *   between them to keep.)
 * - Exactly once past a timeout: a produce slower than produceTimeoutMs is spooled (the caller
 *   gets its 2xx) but keeps running, and often lands after all. Its spool entry remembers the
 *   produce's outcome; the drainer waits for it before sending that entry or anything behind it,
 *   and only acknowledges the entry when the produce landed. The same for the drainer's own
 *   timed-out batches. A crash loses those outcomes: before replaying a recovered spool, its
 *   first records are looked for in the landing topics (LandedCopies) and those found are not
 *   sent again (bounded; see README for what it does not cover).
 */
export class LandingWriter {
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private draining: Promise<void> | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private readonly drainBatchRecords: number;
  private topicsReady = false;
  private readonly lateProduceWaitMs: number;
  /**
   * Waits cut short when stop() begins (a late produce must not hold up shutdown). A set rather
   * than one promise everyone races against: that would keep a reaction per wait until stop.
   */
  private readonly stopListeners = new Set<() => void>();
  /** Entries recovered from disk at start still to drain, whose records may have landed before a crash. */
  private recoveredEntries = 0;
  /** Fingerprints of recovered records found in the log; null until searched. */
  private landedBeforeRestart: Set<string> | null = null;

  constructor(private readonly options: LandingWriterOptions) {
    this.drainBatchRecords = options.drainBatchRecords ?? 5000;
    this.lateProduceWaitMs = options.lateProduceWaitMs ?? DEFAULT_LATE_PRODUCE_WAIT_MS;
    if (options.checkLandedOnRecovery !== false) this.recoveredEntries = options.spool.entries;
    if (!options.spool.isEmpty()) this.startDrain();
  }

  get isDraining(): boolean {
    return this.draining !== null;
  }

  async write(records: ProducerRecord[]): Promise<WriteResult> {
    if (this.stopped) throw new Error('landing writer is stopped');
    const { breaker, spool } = this.options;
    // Behind spooled records, or with the breaker refusing: straight to the spool.
    if (this.draining || !spool.isEmpty() || !breaker.tryAcquire()) return this.spool(records);
    this.inFlight++;
    try {
      const metadata = await this.produceWithTimeout(records);
      breaker.success();
      return { spooled: false, metadata };
    } catch (error) {
      breaker.failure();
      this.options.onProduceError?.(error as Error);
      this.options.logger.warn({ err: error, records: records.length, breaker: breaker.state }, 'landing write failed; spooling');
      // Still in flight: the entry keeps its outcome so the drainer does not send it twice.
      return this.spool(records, error instanceof ProduceTimeoutError ? error.landed : undefined);
    } finally {
      if (--this.inFlight === 0) for (const waiter of this.idleWaiters.splice(0)) waiter();
    }
  }

  /** Stops draining and waits for writes in flight; the spool keeps whatever is left. */
  async stop(drainDeadlineMs = 0): Promise<void> {
    // Worth waiting only when the log is taking writes; with the breaker open the spool stays for the next start.
    if (drainDeadlineMs > 0 && this.draining && this.options.breaker.state !== 'open') {
      await Promise.race([this.draining, new Promise((resolve) => setTimeout(resolve, drainDeadlineMs).unref())]);
    }
    this.stopped = true;
    for (const listener of [...this.stopListeners]) listener();
    this.wake?.();
    await this.whenNoneInFlight();
    if (this.draining) await this.draining;
    await this.options.spool.whenFlushed();
  }

  private whenNoneInFlight(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async spool(records: ProducerRecord[], landed?: Promise<boolean>): Promise<WriteResult> {
    await this.options.spool.append(records, landed);
    this.options.onSpooled?.(records.length);
    this.startDrain();
    return { spooled: true };
  }

  private async produceOnce(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    if (!this.topicsReady && this.options.prepareTopics) {
      await this.options.prepareTopics();
      this.topicsReady = true;
    }
    return this.options.log.produce(records);
  }

  private produceWithTimeout(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    const ms = this.options.produceTimeoutMs;
    return new Promise<RecordMetadata[]>((resolve, reject) => {
      const produce = this.produceOnce(records);
      const timer = setTimeout(() => {
        this.topicsReady = false;
        reject(new ProduceTimeoutError(ms, this.lateOutcome(produce, this.lateProduceWaitMs - ms)));
      }, ms);
      produce.then(
        (metadata) => {
          clearTimeout(timer);
          resolve(metadata);
        },
        (error: unknown) => {
          clearTimeout(timer);
          this.topicsReady = false;
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  /** Only on a timeout, so the normal path pays nothing for it. */
  private lateOutcome(produce: Promise<RecordMetadata[]>, waitMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        this.options.logger.warn({ waitMs: this.lateProduceWaitMs }, 'a timed-out produce has still not answered; its records will be sent again');
        resolve(false);
      }, Math.max(0, waitMs));
      timer.unref();
    });
    const outcome = produce.then(
      () => true,
      () => false,
    );
    void outcome.then(() => clearTimeout(timer));
    return Promise.race([outcome, bound]);
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

  private startDrain(): void {
    if (this.draining || this.stopped) return;
    this.draining = this.drainLoop().finally(() => {
      this.draining = null;
      // An append may have landed between the last ack and the end of the loop.
      if (!this.stopped && !this.options.spool.isEmpty()) this.startDrain();
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

  /** Moves spooled records to the log, oldest first, one batch at a time. */
  private async drainLoop(): Promise<void> {
    const { spool, breaker, logger } = this.options;
    let backoffMs = 100;
    let failures = 0;
    // Let produce calls already in flight settle first: a failing one adds to the spool.
    await this.whenNoneInFlight();
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
        await this.produceWithTimeout(records);
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
        await this.produceWithTimeout([record]);
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
          await this.produceWithTimeout([
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

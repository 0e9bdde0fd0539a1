import type { Logger } from 'pino';
import type { Log, ProducerRecord, RecordMetadata } from '../log/Log.js';
import type { CircuitBreaker } from './CircuitBreaker.js';
import type { DiskSpool } from './DiskSpool.js';

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
}

/** Consecutive failed drains of one batch, with the log reporting healthy, before isolating a poison record. */
const POISON_AFTER_FAILURES = 5;

class ProduceTimeoutError extends Error {
  constructor(ms: number) {
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
 */
export class LandingWriter {
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private draining: Promise<void> | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private readonly drainBatchRecords: number;
  private topicsReady = false;

  constructor(private readonly options: LandingWriterOptions) {
    this.drainBatchRecords = options.drainBatchRecords ?? 5000;
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
      return this.spool(records);
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
    this.wake?.();
    await this.whenNoneInFlight();
    if (this.draining) await this.draining;
    await this.options.spool.whenFlushed();
  }

  private whenNoneInFlight(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async spool(records: ProducerRecord[]): Promise<WriteResult> {
    await this.options.spool.append(records);
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
      const timer = setTimeout(() => {
        this.topicsReady = false;
        reject(new ProduceTimeoutError(ms));
      }, ms);
      this.produceOnce(records).then(
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
      if (!breaker.tryAcquire()) {
        await this.sleep(Math.max(50, breaker.remainingOpenMs()));
        continue;
      }
      const batch = await spool.peek(this.drainBatchRecords);
      try {
        await this.produceWithTimeout(batch.records);
      } catch (error) {
        breaker.failure();
        this.options.onProduceError?.(error as Error);
        logger.debug({ err: error }, 'spool drain: log still failing');
        // A timeout is not a refusal: the produce may yet land (a retried copy is dropped by the
        // topology's dedupe, events carrying ids), so it never counts towards poison isolation.
        if (!(error instanceof ProduceTimeoutError)) failures++;
        // A log that says it is healthy yet keeps refusing this batch: some record in it is
        // poison (e.g. too large for the broker). Isolate it rather than block the spool forever.
        if (failures >= POISON_AFTER_FAILURES && (await this.options.log.isHealthy().catch(() => false))) {
          if (await this.isolatePoison(batch.records)) {
            failures = 0;
            await spool.ack(batch.entries);
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
      await spool.ack(batch.entries);
      this.options.onDrained?.(batch.records.length);
    }
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
        // Timed out, not refused: the batch stays in the spool and is retried whole.
        if (error instanceof ProduceTimeoutError) return false;
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

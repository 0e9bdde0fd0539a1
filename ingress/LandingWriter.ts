import type { ProducerRecord, RecordMetadata } from '../log/Log.js';
import { SpoolDrainer, type SpoolDrainerOptions } from './SpoolDrainer.js';
import { ProduceTimeoutError, TimedProducer } from './TimedProducer.js';

export interface WriteResult {
  /** True when the records were fsynced to the disk spool instead of acknowledged by the log. */
  spooled: boolean;
  /** Per record, when written to the log directly. */
  metadata?: RecordMetadata[];
}

export interface LandingWriterOptions extends SpoolDrainerOptions {
  produceTimeoutMs: number;
  onSpooled?: (records: number) => void;
  /** Creates the topics written to; retried before the next produce after any failure. */
  prepareTopics?: () => Promise<void>;
  /**
   * How long the drainer waits, from the start of a produce that timed out, for it to answer
   * before sending its records again (at-least-once past it). Only a safety net: both logs settle
   * every produce by themselves (embedded: always; Kafka: KAFKA_PRODUCER_TIMEOUT, default 30 s,
   * retries included). Default 120 s.
   */
  lateProduceWaitMs?: number;
}

const DEFAULT_LATE_PRODUCE_WAIT_MS = 120_000;

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
 *   and only acknowledges the entry when the produce landed (SpoolDrainer). The same for the
 *   drainer's own timed-out batches. A crash loses those outcomes: before replaying a recovered
 *   spool, its first records are looked for in the landing topics (LandedCopies) and those found
 *   are not sent again (bounded; see README for what it does not cover).
 */
export class LandingWriter {
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;
  private readonly producer: TimedProducer;
  private readonly drainer: SpoolDrainer;

  constructor(private readonly options: LandingWriterOptions) {
    this.producer = new TimedProducer({
      log: options.log,
      logger: options.logger,
      produceTimeoutMs: options.produceTimeoutMs,
      lateProduceWaitMs: options.lateProduceWaitMs ?? DEFAULT_LATE_PRODUCE_WAIT_MS,
      prepareTopics: options.prepareTopics,
    });
    this.drainer = new SpoolDrainer(options, this.producer, () => this.whenNoneInFlight());
    if (!options.spool.isEmpty()) this.drainer.start();
  }

  get isDraining(): boolean {
    return this.drainer.isDraining;
  }

  async write(records: ProducerRecord[]): Promise<WriteResult> {
    if (this.stopped) throw new Error('landing writer is stopped');
    const { breaker, spool } = this.options;
    // Behind spooled records, or with the breaker refusing: straight to the spool.
    if (this.drainer.isDraining || !spool.isEmpty() || !breaker.tryAcquire()) return this.spool(records);
    this.inFlight++;
    try {
      const metadata = await this.producer.produce(records);
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
    if (drainDeadlineMs > 0 && this.drainer.isDraining && this.options.breaker.state !== 'open') await this.drainer.drainedWithin(drainDeadlineMs);
    this.stopped = true;
    this.drainer.stop();
    await this.whenNoneInFlight();
    await this.drainer.finished();
    await this.options.spool.whenFlushed();
  }

  private whenNoneInFlight(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async spool(records: ProducerRecord[], landed?: Promise<boolean>): Promise<WriteResult> {
    await this.options.spool.append(records, landed);
    this.options.onSpooled?.(records.length);
    this.drainer.start();
    return { spooled: true };
  }
}

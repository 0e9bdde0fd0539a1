import type { Logger } from 'pino';
import { NamedError } from '../errors/NamedError.js';
import type { Log, ProducerRecord, RecordMetadata } from '../log/Log.js';

export class ProduceTimeoutError extends NamedError {
  constructor(
    ms: number,
    /**
     * The produce is still in flight and may yet land: resolves true when it does, false when it
     * fails, or false once the wait bound (lateProduceWaitMs from its start) has passed.
     */
    readonly landed: Promise<boolean>,
  ) {
    super(`log.produce did not answer within ${ms} ms`);
  }
}

export interface TimedProducerOptions {
  log: Log;
  logger: Logger;
  produceTimeoutMs: number;
  /** How long after its start a timed-out produce's late outcome is still awaited. */
  lateProduceWaitMs: number;
  /** Creates the topics written to; retried before the next produce after any failure. */
  prepareTopics?: () => Promise<void>;
}

/**
 * The landing path's log.produce, bounded by produceTimeoutMs. A produce past the bound is not
 * abandoned: it rejects with a ProduceTimeoutError whose `landed` follows the produce still in
 * flight, so the caller can decide later whether its records reached the log after all.
 */
export class TimedProducer {
  private topicsReady = false;

  constructor(private readonly options: TimedProducerOptions) {}

  produce(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    const ms = this.options.produceTimeoutMs;
    return new Promise<RecordMetadata[]>((resolve, reject) => {
      const produce = this.produceOnce(records);
      const timer = setTimeout(() => {
        this.topicsReady = false;
        reject(new ProduceTimeoutError(ms, this.lateOutcome(produce, this.options.lateProduceWaitMs - ms)));
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

  private async produceOnce(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    if (!this.topicsReady && this.options.prepareTopics) {
      await this.options.prepareTopics();
      this.topicsReady = true;
    }
    return this.options.log.produce(records);
  }

  /** Only on a timeout, so the normal path pays nothing for it. */
  private lateOutcome(produce: Promise<RecordMetadata[]>, waitMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        this.options.logger.warn({ waitMs: this.options.lateProduceWaitMs }, 'a timed-out produce has still not answered; its records will be sent again');
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
}

/**
 * The sink loop's wait while a flush is in flight: for its poll's records, or for the flush's end,
 * whichever comes first. One waiter at a time, dropped when its poll answers. The loop used to race
 * each turn's poll against the flush's promise instead: that added a reaction to the flush's
 * promise per turn, and each kept its turn's polled records alive until the flush ended. A flush
 * that catches up writes round after round while the loop polls on: ~200 MB of stream-1's heap at
 * the Kafka capacity phase, which ran the thread out of its heap (BENCHMARKS.md, "The sink held
 * what it polled during a flush").
 */
export class PollOrFlushEnd {
  private wake: (() => void) | null = null;

  /** The poll's records, or null when flushEnded() comes first. */
  wait<T>(polling: Promise<T>): Promise<T | null> {
    return new Promise<T | null>((resolve, reject) => {
      const wake = () => resolve(null);
      this.wake = wake;
      const forget = () => {
        if (this.wake === wake) this.wake = null;
      };
      polling.then(
        (records) => {
          forget();
          resolve(records);
        },
        (error: unknown) => {
          forget();
          reject(error);
        },
      );
    });
  }

  /** The flush in flight ended: a turn waiting on its poll goes on. */
  flushEnded(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

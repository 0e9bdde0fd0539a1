/**
 * In-process wake-up for consumers waiting in poll(): the writer calls notify() after each
 * successful batch, so a waiting poll resumes on the append itself instead of polling a timer.
 */
export class AppendSignal {
  private waiters = new Set<() => void>();

  /** Resolves on the next notify(), on wake(), or after timeoutMs, whichever comes first. */
  wait(timeoutMs: number): { promise: Promise<void>; wake: () => void } {
    let wake!: () => void;
    const promise = new Promise<void>((resolve) => {
      const timer = setTimeout(() => wake(), Math.max(0, timeoutMs));
      wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      this.waiters.add(wake);
    });
    return { promise, wake };
  }

  notify(): void {
    if (this.waiters.size === 0) return;
    const waiters = [...this.waiters];
    for (const wake of waiters) wake();
  }
}

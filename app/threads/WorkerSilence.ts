/** How often the HTTP thread looks for a silent worker. */
const CHECK_EVERY_MS = 1_000;

/**
 * Notices a worker thread that has stopped sending anything (its heartbeat, WORKER_HEARTBEAT_MS),
 * for `limitMs`. A worker that dies inside chDB's addon never reports its exit: out of heap, the
 * thread is torn down, a chDB query completing then throws into the dead isolate, Node aborts,
 * and chDB's own SIGABRT handler leaves that thread spinning (gdb, issue 21). Only this silence
 * tells the HTTP thread. A check that runs late (this thread's own loop was blocked) judges
 * nothing: the worker's messages may be queued behind it.
 */
export class WorkerSilence {
  private lastHeard = Date.now();
  private lastCheck = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly limitMs: number,
    onSilent: (silentMs: number) => void,
  ) {
    this.timer = setInterval(() => {
      const now = Date.now();
      const onTime = now - this.lastCheck < 2 * CHECK_EVERY_MS;
      this.lastCheck = now;
      if (onTime && now - this.lastHeard > this.limitMs) {
        this.stop();
        onSilent(now - this.lastHeard);
      }
    }, CHECK_EVERY_MS);
    this.timer.unref();
  }

  /** The worker sent something. */
  heard(): void {
    this.lastHeard = Date.now();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

import type { Logger } from 'pino';
import type { Gauge } from 'prom-client';
import { groupLag } from '../../log/GroupLag.js';
import { partitionKey, type Log, type TopicPartition } from '../../log/Log.js';

const REFRESH_INTERVAL_MS = 1_000;
/**
 * While the thread is quiet (its polls return nothing, nothing is buffered) and the last read
 * found no lag: a record appended ends the quiet at once (the poll returns it), so this only
 * bounds how late a lag that poll cannot see (a paused partition) shows.
 */
const QUIET_REFRESH_INTERVAL_MS = 5_000;

/**
 * Consumer lag per assigned input partition (end offset minus committed offset), refreshed at
 * most once a second from the processing loop rather than from commits: an idle topology commits
 * nothing, and its lag must still be seen to fall to 0 (or to grow while it is stuck).
 */
export class ConsumerLagMonitor {
  private lastRefreshAt = 0;
  private refreshing: Promise<void> | undefined;
  /** Whether the last read found every partition caught up. */
  private caughtUp = false;
  /**
   * The partitions this thread's gauge holds a value for, by partitionKey. The service sums the
   * stream threads' gauges: a partition that moved to another thread must leave this one's, or
   * its last lag here stays in the sum for good.
   */
  private readonly reported = new Map<string, { topic: string; partition: string }>();

  constructor(
    private readonly log: Log,
    private readonly groupId: string,
    private readonly lag: Gauge<'topic' | 'partition'>,
    private readonly logger: Logger | undefined,
  ) {}

  /**
   * Not awaited by the caller: against a log that is away these reads wait for timeouts, and
   * processing must not. A failure is left to the commit path and /ready to report.
   */
  refresh(now: number, assigned: TopicPartition[], quiet = false): void {
    if (!this.isDue(now, quiet)) return;
    if (assigned.length === 0) {
      // Nothing to read; the refresh stays due, so the poll's timing is what it was with nothing assigned.
      this.forgetAllBut(new Set());
      return;
    }
    this.lastRefreshAt = now;
    this.refreshing = this.update(assigned)
      .catch((error: unknown) => this.logger?.debug({ err: error }, 'reading consumer lag failed'))
      .finally(() => (this.refreshing = undefined));
  }

  /** Whether a refresh would read now: none in flight and its interval (longer while quiet and caught up) has passed. */
  isDue(now: number, quiet: boolean): boolean {
    return this.refreshing === undefined && now >= this.dueAt(quiet);
  }

  /** When the next refresh is due (an idle stream thread's poll waits no longer than that). */
  dueAt(quiet: boolean): number {
    return this.lastRefreshAt + (quiet && this.caughtUp ? QUIET_REFRESH_INTERVAL_MS : REFRESH_INTERVAL_MS);
  }

  /** Resolves when no refresh is in flight (before the log is closed). */
  async idle(): Promise<void> {
    await this.refreshing;
  }

  private async update(assigned: TopicPartition[]): Promise<void> {
    const lag = await groupLag(this.log, this.groupId, assigned);
    let caughtUp = true;
    const current = new Set<string>();
    for (const tp of assigned) {
      const key = partitionKey(tp);
      const partitionLag = lag.get(key)!;
      if (partitionLag > 0) caughtUp = false;
      const labels = { topic: tp.topic, partition: String(tp.partition) };
      this.lag.set(labels, partitionLag);
      this.reported.set(key, labels);
      current.add(key);
    }
    this.forgetAllBut(current);
    this.caughtUp = caughtUp;
  }

  /** Drops the gauge's values for partitions no longer assigned here (another thread reports them now). */
  private forgetAllBut(assigned: Set<string>): void {
    for (const [key, labels] of this.reported) {
      if (assigned.has(key)) continue;
      this.lag.remove(labels);
      this.reported.delete(key);
    }
  }
}

import type { Logger } from 'pino';
import type { Gauge } from 'prom-client';
import { groupLag } from '../../log/GroupLag.js';
import { partitionKey, type Log, type TopicPartition } from '../../log/Log.js';

const REFRESH_INTERVAL_MS = 1_000;

/**
 * Consumer lag per assigned input partition (end offset minus committed offset), refreshed at
 * most once a second from the processing loop rather than from commits: an idle topology commits
 * nothing, and its lag must still be seen to fall to 0 (or to grow while it is stuck).
 */
export class ConsumerLagMonitor {
  private lastRefreshAt = 0;
  private refreshing: Promise<void> | undefined;

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
  refresh(now: number, assigned: TopicPartition[]): void {
    if (this.refreshing || now - this.lastRefreshAt < REFRESH_INTERVAL_MS || assigned.length === 0) return;
    this.lastRefreshAt = now;
    this.refreshing = this.update(assigned)
      .catch((error: unknown) => this.logger?.debug({ err: error }, 'reading consumer lag failed'))
      .finally(() => (this.refreshing = undefined));
  }

  /** Resolves when no refresh is in flight (before the log is closed). */
  async idle(): Promise<void> {
    await this.refreshing;
  }

  private async update(assigned: TopicPartition[]): Promise<void> {
    const lag = await groupLag(this.log, this.groupId, assigned);
    for (const tp of assigned) this.lag.set({ topic: tp.topic, partition: String(tp.partition) }, lag.get(partitionKey(tp))!);
  }
}

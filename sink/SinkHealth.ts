import type { Logger } from 'pino';
import type { SinkMetrics } from './SinkMetrics.js';

export interface SinkHealthOptions {
  /** Backoff while ClickHouse fails: doubles from initial up to max. */
  retryInitialMs: number;
  retryMaxMs: number;
  /** When idle, ClickHouse is pinged this often so readiness notices an outage without traffic. */
  healthCheckIntervalMs: number;
  metrics: SinkMetrics;
  logger?: Logger;
}

/**
 * Whether the sink's ClickHouse answers: failing or not, the backoff before the next attempt
 * (doubling while failures go on), when ClickHouse last answered (so an idle sink pings it) and
 * the last error, mirrored in the sink's ready gauge. It decides nothing about batches: the sink
 * pauses its partitions on fail() and resumes them on recover().
 */
export class SinkHealth {
  private isFailing = false;
  private backoffMs: number;
  private nextRetryAt = 0;
  private lastContact = 0;
  private error: string | null = null;

  constructor(private readonly options: SinkHealthOptions) {
    this.backoffMs = options.retryInitialMs;
  }

  get failing(): boolean {
    return this.isFailing;
  }

  get lastError(): string | null {
    return this.error;
  }

  /** When the next attempt may be made while failing. */
  get retryAt(): number {
    return this.nextRetryAt;
  }

  /** Failing and still inside the backoff: no attempt yet. */
  backingOff(now = Date.now()): boolean {
    return this.isFailing && now < this.nextRetryAt;
  }

  /** When ClickHouse was last spoken to (a change proves it answered since). */
  get lastContactAt(): number {
    return this.lastContact;
  }

  contact(): void {
    this.lastContact = Date.now();
  }

  /** Not failing and nothing heard for healthCheckIntervalMs: time to ping. */
  pingDue(): boolean {
    return !this.isFailing && Date.now() - this.lastContact >= this.options.healthCheckIntervalMs;
  }

  fail(what: string, error: unknown): void {
    this.error = `${what}: ${(error as Error)?.message ?? String(error)}`;
    if (!this.isFailing) this.options.logger?.warn({ err: error }, 'ClickHouse unreachable or failing; sink paused, retrying with backoff');
    else this.backoffMs = Math.min(this.backoffMs * 2, this.options.retryMaxMs);
    this.isFailing = true;
    this.nextRetryAt = Date.now() + this.backoffMs;
    this.setReady(false);
  }

  recover(): void {
    this.options.logger?.info('ClickHouse answers again; sink resumed');
    this.isFailing = false;
    this.backoffMs = this.options.retryInitialMs;
    this.error = null;
    this.setReady(true);
  }

  setReady(ready: boolean): void {
    this.options.metrics.ready.set({ sink: this.options.metrics.sink }, ready ? 1 : 0);
  }
}

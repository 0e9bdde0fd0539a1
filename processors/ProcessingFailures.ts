import { Counter, type Registry } from 'prom-client';
import { readDurationMs, type Env } from '../config/index.js';

/**
 * Seed 002's failure rules, in one place:
 *   - aggregation failures: that aggregation skips the record; its other aggregations and its
 *     routing go on (aggregation_failures_total{aggregator});
 *   - filter failures: the event is let through (filter_failures_total{filter});
 *   - enrichment failures: the event goes on with empty enrichment (enrichment_failures_total{table}).
 * A failure that persists (every record of a partition a component saw for PROCESSOR_DEGRADED_AFTER,
 * one minute by default) turns GET /processor/status degraded, naming the component, the
 * partitions and the last error. Aggregators' own functions do not see partitions: for them it
 * is every record of any partition.
 *
 * The hot path is ok(): one increment on a plain object per record, so guarding costs nothing
 * measurable; the bookkeeping happens on failures, which are rare.
 */
export type FailureKind = 'aggregation' | 'filter' | 'enrichment';

export const FAILURE_METRICS: Record<FailureKind, { name: string; label: string; help: string }> = {
  aggregation: { name: 'aggregation_failures_total', label: 'aggregator', help: 'Records an aggregation skipped because it threw (the record went on to its other aggregations and routing)' },
  filter: { name: 'filter_failures_total', label: 'filter', help: 'Filter evaluations that threw; the event was let through' },
  enrichment: { name: 'enrichment_failures_total', label: 'table', help: 'Enrichment lookups that threw; the event went on with empty enrichment' },
};

/** A partition's run of failures with no success in between. */
interface Streak {
  startAt: number;
  lastFailureAt: number;
}

/** Partition key for components that do not see partitions (an aggregator's own functions): any success ends the run. */
const ANY_PARTITION = -1;

export class FailureTracker {
  /** Records this component handled without failing (the hot path: ok()). */
  successes = 0;
  failures = 0;
  lastError: string | undefined;
  /** Runs of failures per partition; empty while nothing fails, so ok() costs a size check. */
  private readonly streaks = new Map<number, Streak>();

  constructor(
    readonly kind: FailureKind,
    readonly name: string,
    private readonly now: () => number,
  ) {}

  ok(partition = ANY_PARTITION): void {
    this.successes++;
    if (this.streaks.size !== 0) {
      this.streaks.delete(partition);
      if (partition !== ANY_PARTITION) this.streaks.delete(ANY_PARTITION);
    }
  }

  failed(error: unknown, partition = ANY_PARTITION): void {
    const now = this.now();
    this.failures++;
    this.lastError = error instanceof Error ? error.message : String(error);
    const streak = this.streaks.get(partition);
    if (streak) streak.lastFailureAt = now;
    else this.streaks.set(partition, { startAt: now, lastFailureAt: now });
  }

  /**
   * Partitions (ANY_PARTITION = -1 for a component that does not see them) that failed every
   * record for at least windowMs and are still failing (the last failure within windowMs).
   */
  persistentFor(windowMs: number): number[] {
    const now = this.now();
    const persistent: number[] = [];
    for (const [partition, streak] of this.streaks) {
      if (now - streak.startAt >= windowMs && now - streak.lastFailureAt < windowMs) persistent.push(partition);
    }
    return persistent.sort((a, b) => a - b);
  }
}

export interface ProcessingFailuresOptions {
  /** How long a component must fail every record before /processor/status says degraded. */
  degradedAfterMs?: number;
  now?: () => number;
}

export class ProcessingFailures {
  readonly degradedAfterMs: number;
  private readonly trackers = new Map<string, FailureTracker>();
  private readonly now: () => number;

  constructor(options: ProcessingFailuresOptions = {}) {
    this.degradedAfterMs = options.degradedAfterMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** The tracker of one component (an aggregator, a filter rule set, a reference table); created once per name. */
  tracker(kind: FailureKind, name: string): FailureTracker {
    const id = `${kind}\u0000${name}`;
    let tracker = this.trackers.get(id);
    if (!tracker) this.trackers.set(id, (tracker = new FailureTracker(kind, name, this.now)));
    return tracker;
  }

  all(): FailureTracker[] {
    return [...this.trackers.values()];
  }

  /** Why the processor is degraded; empty when it is not. */
  degradedReasons(): string[] {
    const seconds = Math.round(this.degradedAfterMs / 100) / 10;
    const reasons: string[] = [];
    for (const t of this.all()) {
      const partitions = t.persistentFor(this.degradedAfterMs);
      if (partitions.length === 0) continue;
      const where = partitions[0] === ANY_PARTITION ? '' : ` on partition${partitions.length > 1 ? 's' : ''} ${partitions.join(', ')}`;
      reasons.push(`${t.kind} ${t.name} failed every record${where} for ${seconds}s or more (last error: ${t.lastError})`);
    }
    return reasons;
  }

  /** aggregation_failures_total, filter_failures_total, enrichment_failures_total; safe to call twice on one registry. */
  register(registry: Registry, extra?: (kind: FailureKind) => Array<{ name: string; value: number }>): void {
    for (const kind of Object.keys(FAILURE_METRICS) as FailureKind[]) {
      const { name, label, help } = FAILURE_METRICS[kind];
      if (registry.getSingleMetric(name)) continue;
      const trackers = () => this.all().filter((t) => t.kind === kind);
      new Counter({
        name,
        help,
        labelNames: [label],
        registers: [registry],
        collect() {
          this.reset();
          for (const t of trackers()) if (t.failures > 0) this.inc({ [label]: t.name }, t.failures);
          for (const { name: labelValue, value } of extra?.(kind) ?? []) if (value > 0) this.inc({ [label]: labelValue }, value);
        },
      });
    }
  }
}

/** PROCESSOR_DEGRADED_AFTER (default 1m; Go durations such as "30s" or milliseconds). */
export function readProcessingFailures(env: Env): ProcessingFailures {
  return new ProcessingFailures({ degradedAfterMs: Math.max(1, readDurationMs(env, 'PROCESSOR_DEGRADED_AFTER', 60_000)) });
}

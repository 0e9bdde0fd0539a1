import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { TaskObserver } from './StreamTask.js';

/** Upper bounds (seconds) of processing_duration_seconds: per-record topology time is tens of microseconds. */
export const PROCESSING_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** Prometheus metrics of the stream runtime: processed, DLQ, processor outcomes (late, duplicate, miss...), commits, lag, restore. */
export class TopologyMetrics implements TaskObserver {
  readonly processed: Counter<'task'>;
  readonly deadLettered: Counter<'reason'>;
  readonly outcomes: Counter<'processor' | 'outcome'>;
  readonly commitLatency: Histogram;
  readonly commits: Counter<'result'>;
  readonly retries: Counter<'log'>;
  readonly lag: Gauge<'topic' | 'partition'>;
  readonly restoredRecords: Counter<'store'>;
  readonly restoreSeconds: Histogram<'store'>;
  readonly activeTasks: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.processed = new Counter({ name: 'streamline_topology_records_processed_total', help: 'Input records processed, per task', labelNames: ['task'], registers });
    this.deadLettered = new Counter({ name: 'streamline_topology_dlq_total', help: 'Input records sent to the DLQ by the topology', labelNames: ['reason'], registers });
    this.outcomes = new Counter({
      name: 'streamline_processor_events_total',
      help: 'Outcomes counted by processors (duplicate, late, miss, blocked, ...)',
      labelNames: ['processor', 'outcome'],
      registers,
    });
    this.commitLatency = new Histogram({ name: 'streamline_topology_commit_latency_seconds', help: 'Time to commit outputs, changelogs and offsets', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers });
    this.commits = new Counter({ name: 'streamline_topology_commits_total', help: 'Commits by result', labelNames: ['result'], registers });
    this.retries = new Counter({ name: 'streamline_topology_retries_total', help: 'Failed commits or task rebuilds retried after a backoff, by whether the log answered (only those count towards stopping)', labelNames: ['log'], registers });
    this.lag = new Gauge({ name: 'streamline_topology_consumer_lag', help: 'End offset minus committed offset per input partition', labelNames: ['topic', 'partition'], registers });
    this.restoredRecords = new Counter({ name: 'streamline_topology_restored_records_total', help: 'Changelog records restored into stores', labelNames: ['store'], registers });
    this.restoreSeconds = new Histogram({ name: 'streamline_topology_restore_seconds', help: 'Time to restore a store', labelNames: ['store'], buckets: [0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60], registers });
    this.activeTasks = new Gauge({ name: 'streamline_topology_active_tasks', help: 'Tasks this instance runs', registers });
  }

  private readonly processedSincePublish = new Map<string, number>();
  /** Records processed since start, for the per-batch processing time below. */
  private processedCount = 0;
  private processedAtLastBatch = 0;
  /** processing_duration_seconds (seed 002), filled per poll batch: see recordProcessing. */
  readonly processingTime = { buckets: PROCESSING_BUCKETS, counts: new Array<number>(PROCESSING_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
  /** Milliseconds the stream loop spent routing and processing records (worker_utilization_percent). */
  busyMs = 0;

  /** Counted in a plain map per record; labelled counters cost a label lookup each (see publish). */
  recordProcessed(taskId: string): void {
    this.processedCount++;
    this.processedSincePublish.set(taskId, (this.processedSincePublish.get(taskId) ?? 0) + 1);
  }

  /**
   * One poll batch took elapsedMs to route and process. Its records are observed at the batch's
   * mean per-record time, in one bucket update for the whole batch: a histogram observe per
   * record would cost a noticeable share of the ~30 µs a record takes (BENCHMARKS.md).
   */
  recordProcessing(elapsedMs: number): void {
    this.busyMs += elapsedMs;
    const records = this.processedCount - this.processedAtLastBatch;
    this.processedAtLastBatch = this.processedCount;
    if (records <= 0) return;
    const seconds = elapsedMs / 1000;
    const perRecord = seconds / records;
    const time = this.processingTime;
    let bucket = 0;
    while (bucket < time.buckets.length && perRecord > time.buckets[bucket]!) bucket++;
    time.counts[bucket]! += records;
    time.sum += seconds;
    time.count += records;
  }

  /** Committed outcome totals since start, for the seed 002 series (processors/SeedMetrics.ts). */
  outcomeTotals(): ReadonlyMap<string, ReadonlyMap<string, number>> {
    return this.totals;
  }

  private readonly totals = new Map<string, Map<string, number>>();

  /**
   * The counts of the records processed since the last take, cleared here. The committer takes
   * them with the records it drains and publishes them only once their transaction committed:
   * an aborted commit's records are processed again from the committed offsets, and counting them
   * at processing time counted them twice (every seed 002 total doubled after one abort).
   */
  takePending(): PendingCounts {
    const pending: PendingCounts = { processed: new Map(this.processedSincePublish), outcomes: new Map(this.outcomesSincePublish), deadLettered: new Map(this.deadLetteredSincePublish) };
    this.processedSincePublish.clear();
    this.outcomesSincePublish.clear();
    this.deadLetteredSincePublish.clear();
    return pending;
  }

  /** Moves counts taken with a committed batch into Prometheus and the totals. */
  publishCommitted(pending: PendingCounts): void {
    for (const [task, count] of pending.processed) this.processed.inc({ task }, count);
    for (const [reason, count] of pending.deadLettered) this.deadLettered.inc({ reason }, count);
    for (const [processor, outcomes] of pending.outcomes) {
      let totals = this.totals.get(processor);
      if (totals === undefined) this.totals.set(processor, (totals = new Map()));
      for (const [outcome, amount] of outcomes) {
        this.outcomes.inc({ processor, outcome }, amount);
        totals.set(outcome, (totals.get(outcome) ?? 0) + amount);
      }
    }
  }

  private readonly deadLetteredSincePublish = new Map<string, number>();

  recordDeadLettered(_taskId: string, reason: string): void {
    this.deadLetteredSincePublish.set(reason, (this.deadLetteredSincePublish.get(reason) ?? 0) + 1);
  }

  /** processor → outcome → amount since the last publish. */
  private readonly outcomesSincePublish = new Map<string, Map<string, number>>();

  /** Several outcomes per record (parse, dedupe, filter, route, ...): summed here, published when their commit succeeded. */
  processorOutcome(processor: string, outcome: string, amount: number): void {
    let outcomes = this.outcomesSincePublish.get(processor);
    if (outcomes === undefined) this.outcomesSincePublish.set(processor, (outcomes = new Map()));
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + amount);
  }
}

/** Counts of processed records not yet committed (TopologyMetrics.takePending). */
export interface PendingCounts {
  processed: Map<string, number>;
  outcomes: Map<string, Map<string, number>>;
  deadLettered: Map<string, number>;
}

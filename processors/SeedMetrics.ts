import { Counter, Gauge, type Registry } from 'prom-client';
import type { StreamsApp } from '../topology/index.js';
import type { DefaultPipeline } from './DefaultPipeline.js';

/** The event kinds the parse node counts (bounded: the values of events_processed_total{event_type}). */
const EVENT_TYPES = ['attempt', 'session', 'placement', 'collector', 'product'] as const;

/**
 * Seed 002's seven key metrics under the seed's own names, so dashboards and alerts written for
 * the seed service keep working, beside the streamline_* families they are read from:
 *
 *   events_processed_total{event_type}      events parsed from the landing topic, by kind
 *   events_enriched_total                   events whose user was found in the users table
 *   events_filtered_total{filter}           events a filter rule blocked (sent to the DLQ), by rule
 *   events_deduplicated_total               duplicates dropped by dedupe
 *   processing_duration_seconds             per-record topology time (histogram; see TopologyMetrics.recordProcessing)
 *   enrichment_cache_hit_ratio{table}       hits / lookups of the users and items tables (0–1)
 *   worker_utilization_percent{thread}      busy / wall time of the stream loop since the previous scrape
 *
 * Plus the failure counters of processors/ProcessingFailures.ts. Values are read at scrape time
 * from counters the runtime keeps anyway: nothing is added to the per-record path here.
 *
 * @example
 *   registerSeedMetrics(registry, streamsApp, pipeline);
 */
export function registerSeedMetrics(registry: Registry, app: StreamsApp, pipeline: DefaultPipeline): void {
  if (registry.getSingleMetric('events_processed_total')) return;
  const registers = [registry];
  const outcome = (processor: string, name: string) => app.metrics.outcomeTotals().get(processor)?.get(name) ?? 0;
  const nodes = pipeline.nodes;

  new Counter({
    name: 'events_processed_total',
    help: 'Events processed by the topology, by event type (seed 002)',
    labelNames: ['event_type'],
    registers,
    collect() {
      this.reset();
      for (const type of EVENT_TYPES) {
        const total = outcome(nodes.parse, type);
        if (total > 0) this.inc({ event_type: type }, total);
      }
    },
  });
  new Counter({
    name: 'events_enriched_total',
    help: 'Events enriched with their user profile (users table hit) (seed 002)',
    registers,
    collect() {
      setCounter(this, {}, outcome(nodes.enrich, 'user_hit'));
    },
  });
  new Counter({
    name: 'events_filtered_total',
    help: 'Events a filter rule blocked (to the DLQ), by rule (seed 002)',
    labelNames: ['filter'],
    registers,
    collect() {
      this.reset();
      for (const rule of pipeline.filters.stats()) if (rule.action === 'block' && rule.matched > 0) this.inc({ filter: rule.id }, rule.matched);
    },
  });
  new Counter({
    name: 'events_deduplicated_total',
    help: 'Duplicate events detected and dropped (seed 002)',
    registers,
    collect() {
      setCounter(this, {}, outcome(nodes.dedupe, 'duplicate'));
    },
  });
  registry.registerMetric(processingDurationHistogram(app) as never);
  new Gauge({
    name: 'enrichment_cache_hit_ratio',
    help: 'Reference lookups that found their row, over all lookups, per table (seed 002; the tables are local stores)',
    labelNames: ['table'],
    registers,
    collect() {
      for (const [table, prefix] of [['users', 'user'], ['items', 'item']] as const) {
        const hits = outcome(nodes.enrich, `${prefix}_hit`);
        const lookups = hits + outcome(nodes.enrich, `${prefix}_miss`);
        if (lookups > 0) this.set({ table }, hits / lookups);
      }
    },
  });
  let lastScrapeAt = performance.now();
  let busyAtLastScrape = app.metrics.busyMs;
  new Gauge({
    name: 'worker_utilization_percent',
    help: 'Share of wall time the stream thread spent processing records since the previous scrape (seed 002; one thread today)',
    labelNames: ['thread'],
    registers,
    collect() {
      const now = performance.now();
      const busy = app.metrics.busyMs;
      const wall = now - lastScrapeAt;
      if (wall > 0) this.set({ thread: '0' }, Math.min(100, Math.round(((busy - busyAtLastScrape) / wall) * 10_000) / 100));
      lastScrapeAt = now;
      busyAtLastScrape = busy;
    },
  });
  pipeline.failures.register(registry, (kind) => (kind === 'filter' ? pipeline.filters.errorsByRule() : []));
}

function setCounter<L extends string>(counter: Counter<L>, labels: Partial<Record<L, string>>, total: number): void {
  counter.reset();
  if (total > 0) counter.inc(labels, total);
}

/** A Prometheus histogram read from TopologyMetrics.processingTime (filled per batch, not per observe). */
function processingDurationHistogram(app: StreamsApp) {
  const name = 'processing_duration_seconds';
  return {
    name,
    help: 'Per-record topology processing time, observed per poll batch at its mean (seed 002)',
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const time = app.metrics.processingTime;
      const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
      let cumulative = 0;
      time.buckets.forEach((le, i) => {
        cumulative += time.counts[i]!;
        values.push({ metricName: `${name}_bucket`, labels: { le }, value: cumulative });
      });
      values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: time.count });
      values.push({ metricName: `${name}_sum`, labels: {}, value: time.sum });
      values.push({ metricName: `${name}_count`, labels: {}, value: time.count });
      return { name, help: this.help, type: 'histogram', aggregator: 'sum', values };
    },
  };
}

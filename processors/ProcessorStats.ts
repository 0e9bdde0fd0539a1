import type { StreamsApp } from '../topology/index.js';
import type { DefaultPipeline } from './DefaultPipeline.js';

/**
 * Seed 002's status and statistics, read from the runtime's Prometheus counters
 * (streamline_processor_events_total{processor,outcome}, set through context.count) and from the
 * rule sets. One source for /metrics/prometheus and the JSON routes, so they never disagree.
 */
export type OutcomeCounts = Map<string, Map<string, number>>;

export async function outcomeCounts(app: StreamsApp): Promise<OutcomeCounts> {
  const counts: OutcomeCounts = new Map();
  for (const { labels, value } of (await app.metrics.outcomes.get()).values) {
    const processor = String(labels.processor);
    const outcomes = counts.get(processor) ?? new Map<string, number>();
    outcomes.set(String(labels.outcome), (outcomes.get(String(labels.outcome)) ?? 0) + value);
    counts.set(processor, outcomes);
  }
  return counts;
}

const get = (counts: OutcomeCounts, processor: string | undefined, outcome: string) => (processor ? (counts.get(processor)?.get(outcome) ?? 0) : 0);
/** A hit or match ratio as the statistics routes show it: 4 decimals, null when nothing was counted. */
export const ratio = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 10_000) / 10_000 : null);

async function sum(metric: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number> }> }> }, filter: (labels: Record<string, string | number>) => boolean = () => true) {
  return (await metric.get()).values.filter((v) => filter(v.labels)).reduce((total, v) => total + v.value, 0);
}

export async function processorMetrics(app: StreamsApp, pipeline: DefaultPipeline) {
  const counts = await outcomeCounts(app);
  const n = pipeline.nodes;
  const parsed = ['attempt', 'session', 'placement', 'collector', 'product'].reduce((total, kind) => total + get(counts, n.parse, kind), 0);
  return {
    events_processed_total: await sum(app.metrics.processed),
    events_parsed_total: parsed,
    events_dead_lettered_total: (await sum(app.metrics.deadLettered)) + get(counts, n.filter, 'blocked'),
    events_deduplicated_total: get(counts, n.dedupe, 'duplicate'),
    events_enriched_total: get(counts, n.enrich, 'user_hit'),
    // seed 002's name; here the hit ratio of the users table (a local store, no cache tiers).
    enrichment_cache_hit_ratio: ratio(get(counts, n.enrich, 'user_hit'), get(counts, n.enrich, 'user_hit') + get(counts, n.enrich, 'user_miss')),
    events_filtered_total: get(counts, n.filter, 'blocked'),
    events_passed_total: get(counts, n.filter, 'passed'),
    events_routed_total: get(counts, n.route, 'routed'),
    events_unrouted_total: get(counts, n.route, 'unrouted'),
    late_records_total: pipeline.aggregations.reduce((total, h) => total + get(counts, h.processorName, 'late'), 0),
    commits_total: await sum(app.metrics.commits, (labels) => labels.result === 'ok'),
    processors: Object.fromEntries([...counts].map(([processor, outcomes]) => [processor, Object.fromEntries(outcomes)])),
  };
}

/**
 * healthy, starting or unhealthy from the runtime's state; degraded (still 200: events flow) while
 * a component fails every record it sees (seed 002's failure rules, processors/ProcessingFailures.ts),
 * with the reasons.
 */
export function processorStatus(app: StreamsApp, pipeline?: DefaultPipeline) {
  const state = app.state;
  let status = state === 'RUNNING' ? 'healthy' : state === 'STARTING' || state === 'CREATED' ? 'starting' : 'unhealthy';
  const reasons = pipeline?.failures.degradedReasons() ?? [];
  if (status === 'healthy' && reasons.length > 0) status = 'degraded';
  return { status, state, tasks: app.taskIds(), error: app.error?.message, ...(reasons.length > 0 ? { degraded_reasons: reasons } : {}) };
}

export async function enrichmentStats(app: StreamsApp, pipeline: DefaultPipeline) {
  const counts = await outcomeCounts(app);
  const node = pipeline.nodes.enrich;
  const userHits = get(counts, node, 'user_hit');
  const userMisses = get(counts, node, 'user_miss');
  const itemHits = get(counts, node, 'item_hit');
  const itemMisses = get(counts, node, 'item_miss');
  return {
    events_enriched: userHits + userMisses,
    user: { hits: userHits, misses: userMisses, hit_ratio: ratio(userHits, userHits + userMisses), table: pipeline.config.referenceTopics.users },
    item: { hits: itemHits, misses: itemMisses, hit_ratio: ratio(itemHits, itemHits + itemMisses), table: pipeline.config.referenceTopics.items },
    miss_policy: 'pass through unenriched (user/item null), counted',
  };
}

export async function filterStats(app: StreamsApp, pipeline: DefaultPipeline) {
  const counts = await outcomeCounts(app);
  const node = pipeline.nodes.filter;
  return {
    passed: get(counts, node, 'passed'),
    blocked: get(counts, node, 'blocked'),
    flagged: get(counts, node, 'flagged'),
    hinted: get(counts, node, 'hinted'),
    transformed: get(counts, node, 'transformed'),
    rule_errors: pipeline.filters.ruleErrors,
    loaded_from: pipeline.filters.loadedFrom ?? 'built-in defaults',
    loaded_at: new Date(pipeline.filters.loadedAt).toISOString(),
    last_reload_error: pipeline.filters.lastError,
    rules: pipeline.filters.stats(),
    routing: { unrouted: pipeline.routes.unrouted, rules: pipeline.routes.stats() },
  };
}

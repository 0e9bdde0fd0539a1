import { ratio } from '../../processors/ProcessorStats.js';

/**
 * Seed 002's statistics routes, answered for the whole process when several stream threads each
 * count their own tasks: every thread answers from its own counters and rule sets, and these pure
 * functions combine the answers into the one a single-threaded process would give. Counters are
 * summed, ratios recomputed from the summed parts (never averaged), rule statistics summed per rule
 * id, and a status is the worst of the threads'. Each merger names the fields it sums, so a rule's
 * own settings (priority, topic) are never added up.
 */
type Json = Record<string, unknown>;

const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

function sumFields(answers: Json[], fields: string[]): Json {
  return Object.fromEntries(fields.map((field) => [field, answers.reduce((total, answer) => total + num(answer[field]), 0)]));
}

/** Rule statistics by rule id, in the first thread's order (every thread holds the same rules). */
function sumRules(lists: unknown[], counters: string[]): Json[] {
  const [first, ...others] = lists.map((list) => (Array.isArray(list) ? (list as Json[]) : []));
  return (first ?? []).map((rule) => {
    const same = others.map((list) => list.find((other) => other.id === rule.id)).filter((other): other is Json => other !== undefined);
    return { ...rule, ...sumFields([rule, ...same], counters) };
  });
}

/** processor -> outcome -> count, summed. */
function sumOutcomes(maps: unknown[]): Record<string, Record<string, number>> {
  const merged: Record<string, Record<string, number>> = {};
  for (const map of maps) {
    for (const [processor, outcomes] of Object.entries((map ?? {}) as Record<string, Record<string, number>>)) {
      const into = (merged[processor] ??= {});
      for (const [outcome, count] of Object.entries(outcomes)) into[outcome] = (into[outcome] ?? 0) + num(count);
    }
  }
  return merged;
}

const PROCESSOR_METRIC_COUNTERS = [
  'events_processed_total',
  'events_parsed_total',
  'events_dead_lettered_total',
  'events_deduplicated_total',
  'events_enriched_total',
  'events_filtered_total',
  'events_passed_total',
  'events_routed_total',
  'events_unrouted_total',
  'late_records_total',
  'commits_total',
];

/** GET /metrics/processor */
export function mergeProcessorMetrics(answers: Json[]): Json {
  const processors = sumOutcomes(answers.map((answer) => answer.processors));
  // The enrichment node is the one counting user hits and misses.
  const enrich = Object.values(processors).find((outcomes) => 'user_hit' in outcomes || 'user_miss' in outcomes) ?? {};
  const hits = num(enrich.user_hit);
  return {
    ...answers[0],
    ...sumFields(answers, PROCESSOR_METRIC_COUNTERS),
    enrichment_cache_hit_ratio: ratio(hits, hits + num(enrich.user_miss)),
    processors,
  };
}

/** GET /processor/enrichment */
export function mergeEnrichmentStats(answers: Json[]): Json {
  const side = (name: 'user' | 'item'): Json => {
    const parts = answers.map((answer) => (answer[name] ?? {}) as Json);
    const { hits, misses } = sumFields(parts, ['hits', 'misses']) as { hits: number; misses: number };
    return { ...parts[0], hits, misses, hit_ratio: ratio(hits, hits + misses) };
  };
  return { ...answers[0], ...sumFields(answers, ['events_enriched']), user: side('user'), item: side('item') };
}

const ROUTE_COUNTERS = ['routed'];

/** GET /processor/routes */
export function mergeRouteStats(answers: Json[]): Json {
  return { ...answers[0], rules: sumRules(answers.map((answer) => answer.rules), ROUTE_COUNTERS), ...sumFields(answers, ['unrouted']) };
}

/** GET /processor/filters */
export function mergeFilterStats(answers: Json[]): Json {
  const routing = answers.map((answer) => (answer.routing ?? {}) as Json);
  return {
    ...answers[0],
    ...sumFields(answers, ['passed', 'blocked', 'flagged', 'hinted', 'transformed', 'rule_errors']),
    last_reload_error: answers.map((answer) => answer.last_reload_error).find((error) => error !== null && error !== undefined) ?? null,
    rules: sumRules(
      answers.map((answer) => answer.rules),
      ['evaluated', 'matched', 'errors'],
    ),
    routing: { ...routing[0], ...sumFields(routing, ['unrouted']), rules: sumRules(routing.map((r) => r.rules), ROUTE_COUNTERS) },
  };
}

const STATUS_RANK = ['healthy', 'degraded', 'starting', 'unhealthy'];

/** GET /processor/status: the worst thread's status and state; every thread's tasks and degraded reasons. */
export function mergeProcessorStatus(answers: Json[]): Json {
  const worst = answers.reduce((a, b) => (STATUS_RANK.indexOf(String(b.status)) > STATUS_RANK.indexOf(String(a.status)) ? b : a));
  const tasks = answers.flatMap((answer) => (Array.isArray(answer.tasks) ? (answer.tasks as string[]) : [])).sort();
  const reasons = [...new Set(answers.flatMap((answer) => (Array.isArray(answer.degraded_reasons) ? (answer.degraded_reasons as string[]) : [])))];
  const error = answers.map((answer) => answer.error).find((e) => e !== undefined && e !== null);
  return {
    status: worst.status,
    state: worst.state,
    tasks,
    ...(error !== undefined ? { error } : {}),
    ...(reasons.length > 0 ? { degraded_reasons: reasons } : {}),
  };
}

/** The routes answered for all stream threads together, by path (GET only). */
export const MERGED_STATS: ReadonlyMap<string, (answers: Json[]) => Json> = new Map([
  ['/metrics/processor', mergeProcessorMetrics],
  ['/processor/enrichment', mergeEnrichmentStats],
  ['/processor/filters', mergeFilterStats],
  ['/processor/routes', mergeRouteStats],
  ['/processor/status', mergeProcessorStatus],
]);

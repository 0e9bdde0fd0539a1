/**
 * With several stream threads, seed 002's statistics routes combine every thread's answer
 * (app/threads/StatsMerging.ts): counters summed, ratios recomputed from the sums, rule
 * statistics summed per rule id without adding up the rules' own settings.
 */
import { mergeEnrichmentStats, mergeFilterStats, mergeProcessorMetrics, mergeProcessorStatus, mergeRouteStats } from '../../app/threads/StatsMerging.js';

describe('merging the statistics of several stream threads', () => {
  test('processor metrics: counters summed, the hit ratio recomputed from summed hits and misses', () => {
    const merged = mergeProcessorMetrics([
      { events_processed_total: 10, late_records_total: 1, enrichment_cache_hit_ratio: 1, processors: { enrich: { user_hit: 9, user_miss: 0 }, parse: { attempt: 10 } } },
      { events_processed_total: 30, late_records_total: 2, enrichment_cache_hit_ratio: 0.0333, processors: { enrich: { user_hit: 1, user_miss: 29 }, dedupe: { duplicate: 4 } } },
    ]);
    expect(merged.events_processed_total).toBe(40);
    expect(merged.late_records_total).toBe(3);
    // 10 hits of 39 lookups, not the mean of 1 and 0.0333.
    expect(merged.enrichment_cache_hit_ratio).toBe(0.2564);
    expect(merged.processors).toEqual({ enrich: { user_hit: 10, user_miss: 29 }, parse: { attempt: 10 }, dedupe: { duplicate: 4 } });
  });

  test('enrichment: hits and misses per table summed, ratios recomputed, the table name kept', () => {
    const merged = mergeEnrichmentStats([
      { events_enriched: 4, user: { hits: 3, misses: 1, hit_ratio: 0.75, table: 'ref.users' }, item: { hits: 0, misses: 0, hit_ratio: null, table: 'ref.items' } },
      { events_enriched: 6, user: { hits: 0, misses: 6, hit_ratio: 0, table: 'ref.users' }, item: { hits: 2, misses: 0, hit_ratio: 1, table: 'ref.items' } },
    ]);
    expect(merged).toMatchObject({ events_enriched: 10, user: { hits: 3, misses: 7, hit_ratio: 0.3, table: 'ref.users' }, item: { hits: 2, misses: 0, hit_ratio: 1 } });
  });

  test("filters and routes: counts per rule id summed, a rule's priority and topic left as they are", () => {
    const rule = (id: string, matched: number) => ({ id, priority: 10, enabled: true, evaluated: matched * 2, matched, errors: 0 });
    const route = (routed: number) => ({ id: 'r1', topic: 'events.attempts', priority: 5, routed });
    const merged = mergeFilterStats([
      { passed: 5, blocked: 1, rule_errors: 0, last_reload_error: null, rules: [rule('a', 1), rule('b', 2)], routing: { unrouted: 1, rules: [route(3)] } },
      { passed: 7, blocked: 0, rule_errors: 2, last_reload_error: null, rules: [rule('b', 5), rule('a', 0)], routing: { unrouted: 0, rules: [route(4)] } },
    ]);
    expect(merged).toMatchObject({ passed: 12, blocked: 1, rule_errors: 2, routing: { unrouted: 1, rules: [{ id: 'r1', priority: 5, routed: 7 }] } });
    expect(merged.rules).toEqual([rule('a', 1), { ...rule('b', 7), evaluated: 14 }]);
    expect(mergeRouteStats([{ rules: [route(1)], unrouted: 2 }, { rules: [route(2)], unrouted: 3 }])).toMatchObject({ rules: [{ priority: 5, routed: 3 }], unrouted: 5 });
  });

  test("status: the worst thread's, with every thread's tasks and reasons", () => {
    const merged = mergeProcessorStatus([
      { status: 'healthy', state: 'RUNNING', tasks: ['0_1', '1_1'] },
      { status: 'degraded', state: 'RUNNING', tasks: ['0_0'], degraded_reasons: ['enrichment fails every record'] },
    ]);
    expect(merged).toEqual({ status: 'degraded', state: 'RUNNING', tasks: ['0_0', '0_1', '1_1'], degraded_reasons: ['enrichment fails every record'] });
    expect(mergeProcessorStatus([{ status: 'healthy', state: 'RUNNING', tasks: [] }, { status: 'unhealthy', state: 'ERROR', tasks: [], error: 'boom' }])).toMatchObject({ status: 'unhealthy', state: 'ERROR', error: 'boom' });
  });
});

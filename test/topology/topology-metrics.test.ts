import { Registry } from 'prom-client';
import { TopologyMetrics } from '../../topology/runtime/TopologyMetrics.js';

describe('TopologyMetrics processor outcomes', () => {
  const read = async (metrics: TopologyMetrics) =>
    Object.fromEntries((await metrics.outcomes.get()).values.map((v) => [`${v.labels.processor}/${v.labels.outcome}`, v.value]));

  test('sums outcomes in memory and shows them once their commit succeeded, without double counting', async () => {
    const registry = new Registry();
    const metrics = new TopologyMetrics(registry);
    for (let i = 0; i < 5; i++) metrics.processorOutcome('dedupe', 'unique', 1);
    metrics.processorOutcome('dedupe', 'duplicate', 2);
    metrics.processorOutcome('filter', 'blocked', 1);
    // Processed, not committed: not counted yet.
    expect(await read(metrics)).toEqual({});
    const taken = metrics.takePending();
    metrics.processorOutcome('dedupe', 'unique', 3);
    metrics.publishCommitted(taken);
    expect(await read(metrics)).toEqual({ 'dedupe/unique': 5, 'dedupe/duplicate': 2, 'filter/blocked': 1 });
    metrics.publishCommitted(metrics.takePending());
    expect(await read(metrics)).toEqual({ 'dedupe/unique': 8, 'dedupe/duplicate': 2, 'filter/blocked': 1 });
    expect(await registry.metrics()).toContain('streamline_processor_events_total{processor="dedupe",outcome="unique"} 8');
    expect(metrics.outcomeTotals().get('dedupe')?.get('unique')).toBe(8);
  });

  test("an aborted commit's counts are dropped: its records are processed and counted again", async () => {
    const metrics = new TopologyMetrics(new Registry());
    metrics.recordProcessed('0_0');
    metrics.processorOutcome('dedupe', 'unique', 1);
    metrics.recordDeadLettered('0_0', 'unparseable');
    metrics.takePending(); // the commit that took them aborted
    metrics.recordProcessed('0_0');
    metrics.processorOutcome('dedupe', 'unique', 1);
    metrics.recordDeadLettered('0_0', 'unparseable');
    metrics.publishCommitted(metrics.takePending());
    expect(await read(metrics)).toEqual({ 'dedupe/unique': 1 });
    expect((await metrics.processed.get()).values.map((v) => v.value)).toEqual([1]);
    expect((await metrics.deadLettered.get()).values.map((v) => v.value)).toEqual([1]);
  });
});

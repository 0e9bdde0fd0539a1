import { Registry } from 'prom-client';
import { TopologyMetrics } from '../../topology/runtime/TopologyMetrics.js';

describe('TopologyMetrics processor outcomes', () => {
  test('sums outcomes in memory and shows them on every read, before and after a publish, without double counting', async () => {
    const registry = new Registry();
    const metrics = new TopologyMetrics(registry);
    for (let i = 0; i < 5; i++) metrics.processorOutcome('dedupe', 'unique', 1);
    metrics.processorOutcome('dedupe', 'duplicate', 2);
    metrics.processorOutcome('filter', 'blocked', 1);
    const read = async () =>
      Object.fromEntries((await metrics.outcomes.get()).values.map((v) => [`${v.labels.processor}/${v.labels.outcome}`, v.value]));
    expect(await read()).toEqual({ 'dedupe/unique': 5, 'dedupe/duplicate': 2, 'filter/blocked': 1 });
    metrics.processorOutcome('dedupe', 'unique', 3);
    metrics.publish();
    expect(await read()).toEqual({ 'dedupe/unique': 8, 'dedupe/duplicate': 2, 'filter/blocked': 1 });
    expect(await registry.metrics()).toContain('streamline_processor_events_total{processor="dedupe",outcome="unique"} 8');
  });
});

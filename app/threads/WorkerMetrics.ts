import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';

interface MetricsSource {
  metrics(): Promise<Array<MetricObjectWithValues<MetricValue<string>>>>;
}

/**
 * Makes this thread's registry answer with every thread's metrics: each worker registers its own
 * (the stream threads' topology metrics, the sink's) in its own registry, and Prometheus scrapes
 * one endpoint. Series of the same name and labels are added up across threads (prom-client's
 * aggregation, as for cluster workers), so two stream threads' counters read as the process's;
 * the process-wide default metrics come from this thread only.
 */
export function includeWorkerMetrics(registry: Registry, workers: MetricsSource[]): void {
  if (workers.length === 0) return;
  const own = registry.metrics.bind(registry);
  registry.metrics = async () => {
    const fromWorkers = await Promise.all(workers.map((worker) => worker.metrics().catch(() => [])));
    if (fromWorkers.every((metrics) => metrics.length === 0)) return own();
    const mine = await registry.getMetricsAsJSON();
    return AggregatorRegistry.aggregate([mine, ...fromWorkers] as never).metrics();
  };
}

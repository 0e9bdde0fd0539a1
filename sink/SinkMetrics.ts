import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The sink's Prometheus metrics (prefix streamline_sink_), labelled by sink so several sinks can
 * share one registry: the second one reuses the metrics the first registered.
 */
export class SinkMetrics {
  readonly rowsInserted: Counter<'sink' | 'table'>;
  readonly batches: Counter<'sink' | 'topic'>;
  readonly insertSeconds: Histogram<'sink' | 'table'>;
  readonly failures: Counter<'sink' | 'table'>;
  readonly skipped: Counter<'sink' | 'topic' | 'reason'>;
  readonly deadLetters: Counter<'sink' | 'topic' | 'reason'>;
  readonly isolationInserts: Counter<'sink' | 'table' | 'result'>;
  readonly lag: Gauge<'sink' | 'topic' | 'partition'>;
  readonly ready: Gauge<'sink'>;

  constructor(registry: Registry | undefined, readonly sink: string) {
    const registers = registry ? [registry] : [];
    const reuse = <T>(name: string, make: () => T): T => (registry?.getSingleMetric(name) as T | undefined) ?? make();
    this.rowsInserted = reuse('streamline_sink_rows_inserted_total', () => new Counter({
      name: 'streamline_sink_rows_inserted_total', help: 'Rows inserted into ClickHouse (replays dropped by deduplication included)', labelNames: ['sink', 'table'], registers,
    }));
    this.batches = reuse('streamline_sink_batches_total', () => new Counter({
      name: 'streamline_sink_batches_total', help: 'Batches written and committed', labelNames: ['sink', 'topic'], registers,
    }));
    this.insertSeconds = reuse('streamline_sink_insert_duration_seconds', () => new Histogram({
      name: 'streamline_sink_insert_duration_seconds', help: 'Latency of one table insert of a batch', labelNames: ['sink', 'table'], registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }));
    this.failures = reuse('streamline_sink_insert_failures_total', () => new Counter({
      name: 'streamline_sink_insert_failures_total', help: 'Failed ClickHouse operations (each is retried with backoff)', labelNames: ['sink', 'table'], registers,
    }));
    this.skipped = reuse('streamline_sink_records_skipped_total', () => new Counter({
      name: 'streamline_sink_records_skipped_total', help: 'Records no row was made of (not JSON, mapper error)', labelNames: ['sink', 'topic', 'reason'], registers,
    }));
    this.deadLetters = reuse('streamline_sink_dead_letters_total', () => new Counter({
      name: 'streamline_sink_dead_letters_total',
      help: 'Records the sink wrote to the DLQ instead of ClickHouse (reason: refused = the engine refused its row, not_json, mapper_error)',
      labelNames: ['sink', 'topic', 'reason'], registers,
    }));
    this.isolationInserts = reuse('streamline_sink_isolation_inserts_total', () => new Counter({
      name: 'streamline_sink_isolation_inserts_total',
      help: 'Inserts of part of a refused block while the sink isolates the refused rows (result: inserted, refused)',
      labelNames: ['sink', 'table', 'result'], registers,
    }));
    this.lag = reuse('streamline_sink_lag_records', () => new Gauge({
      name: 'streamline_sink_lag_records', help: 'Records in the log not yet committed by the sink', labelNames: ['sink', 'topic', 'partition'], registers,
    }));
    this.ready = reuse('streamline_sink_ready', () => new Gauge({
      name: 'streamline_sink_ready', help: '1 when the sink reaches ClickHouse and is not backing off', labelNames: ['sink'], registers,
    }));
  }
}

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CleanerResult } from './LogCleaner.js';
import type { TopicCatalog } from './TopicCatalog.js';

/**
 * Prometheus metrics of the embedded log. Updated once per group commit, never per record, so
 * they cost nothing on the append hot path; end offsets are read from memory at scrape time.
 */
export class EmbeddedLogMetrics {
  private readonly records: Counter;
  private readonly batches: Counter;
  private readonly batchSize: Histogram;
  private readonly errors: Counter;
  private readonly cleaned: Counter<'reason'>;

  constructor(registry: Registry, catalog: TopicCatalog) {
    const registers = [registry];
    this.records = new Counter({ name: 'streamline_log_appended_records_total', help: 'Records appended to the embedded log', registers });
    this.batches = new Counter({ name: 'streamline_log_append_batches_total', help: 'RocksDB write batches (group commits) of the embedded log', registers });
    this.batchSize = new Histogram({
      name: 'streamline_log_append_batch_records',
      help: 'Records per group commit of the embedded log',
      buckets: [1, 10, 100, 500, 1000, 5000, 20000],
      registers,
    });
    this.errors = new Counter({ name: 'streamline_log_append_errors_total', help: 'Group commits that failed to write', registers });
    this.cleaned = new Counter({
      name: 'streamline_log_cleaned_records_total',
      help: 'Records removed by compaction (compacted, tombstone) or retention (expired)',
      labelNames: ['reason'],
      registers,
    });
    new Gauge({
      name: 'streamline_log_end_offset',
      help: 'Next offset to be assigned, per topic partition of the embedded log',
      labelNames: ['topic', 'partition'],
      registers,
      collect() {
        for (const topic of catalog.topics()) {
          for (const ps of topic.partitions) this.set({ topic: ps.topic, partition: String(ps.partition) }, ps.end);
        }
      },
    });
  }

  batchWritten(records: number): void {
    this.batches.inc();
    this.records.inc(records);
    this.batchSize.observe(records);
  }

  batchFailed(): void {
    this.errors.inc();
  }

  cleanerPass(result: CleanerResult): void {
    if (result.compacted) this.cleaned.inc({ reason: 'compacted' }, result.compacted);
    if (result.tombstones) this.cleaned.inc({ reason: 'tombstone' }, result.tombstones);
    if (result.expired) this.cleaned.inc({ reason: 'expired' }, result.expired);
  }
}

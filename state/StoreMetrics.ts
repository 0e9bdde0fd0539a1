import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * The metered layer of the store stack, as plain counters: a store bumps numbers on its hot
 * path (a JS increment per get/put), and prom-client reads them only when scraped.
 *
 * Counters are per store name, shared by every task's instance of that store, so they stay
 * monotonic while tasks come and go across rebalances.
 */
export class StoreCounters {
  gets = 0;
  puts = 0;
  deletes = 0;
  restoreRecords = 0;
  restoreSeconds = 0;
  /** Duration of the most recent completed restore of any instance of this store. */
  lastRestoreSeconds = 0;
  /** Writes dropped because their window had already expired. */
  expiredWindowWrites = 0;
  /** Bytes the key filters of this store's instances hold (state/StoreKeyFilter.ts). */
  keyFilterBytes = 0;
  /** Key filter builds given up because the memory plan's share had no room: those reads go to RocksDB. */
  keyFilterDrops = 0;
}

export class StoreMetrics {
  private static readonly byRegistry = new WeakMap<Registry, StoreMetrics>();
  private readonly stores = new Map<string, StoreCounters>();

  /** One StoreMetrics per registry: prom-client refuses a metric name registered twice. */
  static for(registry: Registry): StoreMetrics {
    let metrics = StoreMetrics.byRegistry.get(registry);
    if (!metrics) {
      metrics = new StoreMetrics(registry);
      StoreMetrics.byRegistry.set(registry, metrics);
    }
    return metrics;
  }

  private constructor(registry: Registry) {
    const counter = (name: string, help: string, read: (c: StoreCounters) => number) =>
      new Counter({
        name: `streamline_store_${name}`,
        help,
        labelNames: ['store'],
        registers: [registry],
        collect: this.collector(read),
      });
    counter('gets_total', 'Store reads (get, fetch)', (c) => c.gets);
    counter('puts_total', 'Store writes', (c) => c.puts);
    counter('deletes_total', 'Store deletes', (c) => c.deletes);
    counter('restore_records_total', 'Changelog records applied by restore', (c) => c.restoreRecords);
    counter('restore_seconds_total', 'Time spent restoring from changelogs', (c) => c.restoreSeconds);
    counter('expired_window_writes_total', 'Window writes dropped: window older than retention', (c) => c.expiredWindowWrites);
    counter('key_filter_dropped_total', 'Key filters not built for lack of room in the memory plan (reads of absent keys go to RocksDB)', (c) => c.keyFilterDrops);
    const stores = this.stores;
    new Gauge({
      name: 'streamline_store_key_filter_bytes',
      help: 'Bytes held by the key filters of the store (a share of the memory plan)',
      labelNames: ['store'],
      registers: [registry],
      collect() {
        for (const [store, counters] of stores) this.set({ store }, counters.keyFilterBytes);
      },
    });
    new Gauge({
      name: 'streamline_store_last_restore_duration_seconds',
      help: 'Duration of the latest completed restore',
      labelNames: ['store'],
      registers: [registry],
      collect() {
        for (const [store, counters] of stores) this.set({ store }, counters.lastRestoreSeconds);
      },
    });
  }

  private collector(read: (c: StoreCounters) => number) {
    const stores = this.stores;
    return function (this: Counter<'store'>) {
      this.reset();
      for (const [store, counters] of stores) this.inc({ store }, read(counters));
    };
  }

  counters(storeName: string): StoreCounters {
    let counters = this.stores.get(storeName);
    if (!counters) {
      counters = new StoreCounters();
      this.stores.set(storeName, counters);
    }
    return counters;
  }
}

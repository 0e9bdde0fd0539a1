import { jsonSerde, stringSerde } from '../state/Serde.js';
import type { KeyValueStore } from '../state/StateStore.js';
import { keyValueStoreBuilder, type KStream, type Processor, type ProcessorContext, type StreamRecord, type TimestampedWindowStore } from '../topology/index.js';

/** Which window has an unemitted update: the group key (without prefix) and the window start. */
export interface PendingWindow {
  k: string;
  s: number;
}

export interface AggregateRowBufferOptions<R> {
  /** The aggregation's window store: rows are built from it at emit time. */
  windowStore: string;
  /** Changelogged store of the windows updated since the last emit. */
  pendingStore: string;
  intervalMs: number;
  /** The row for a window's current aggregate. */
  rowOf: (key: string, windowStart: number, aggregate: unknown) => R;
  windowSizeMs: number;
}

/**
 * Emits the latest row of each updated window at most once per interval (Kafka Streams' record
 * cache: a burst of updates to one window becomes one row). An aggregation updated by every event
 * would otherwise emit a row per event and window — with hopping windows and six aggregators,
 * about ten rows per input event.
 *
 * What must survive a crash is only *which* windows have unemitted updates: the aggregates
 * themselves are in the aggregation's changelogged window store. So the first update of a window
 * in an interval writes its (key, start) to a changelogged pending store, later ones cost a set
 * lookup, and the wall-clock punctuation reads each pending window's current aggregate, forwards
 * its row and clears the marker — all in the task's next commit. A restarted task restores the
 * pending store and emits what was left. How updates group into rows may differ between runs;
 * the last row per window never does.
 *
 * @example
 *   const updated = table.toStream().map((w, _a) => [rowKey(w), { k: w.key, s: w.windowStart }]);
 *   bufferAggregateRows(updated, { name: 'agg-x-buffer', windowStore: 'agg-x', pendingStore: 'agg-x-pending', intervalMs: 1000, windowSizeMs, rowOf }).to(topic);
 */
export class AggregateRowBuffer<R> implements Processor<string, PendingWindow, string, R> {
  private context!: ProcessorContext<string, R>;
  private windows!: TimestampedWindowStore<string, unknown>;
  private pending!: KeyValueStore<string, PendingWindow>;
  private readonly dirty = new Map<string, PendingWindow>();

  constructor(private readonly options: AggregateRowBufferOptions<R>) {}

  init(context: ProcessorContext<string, R>): void {
    this.context = context;
    this.windows = context.getStateStore(this.options.windowStore);
    this.pending = context.getStateStore(this.options.pendingStore);
    for (const { key, value } of this.pending.all()) this.dirty.set(key, value);
    context.schedule(this.options.intervalMs, 'wall-clock', () => this.emit());
  }

  /** The input is the window an update touched, keyed by its row key; only the first per interval costs a store write. */
  process(record: StreamRecord<string, PendingWindow>): void {
    if (this.dirty.has(record.key)) return;
    this.pending.put(record.key, record.value);
    this.dirty.set(record.key, record.value);
  }

  private emit(): void {
    if (this.dirty.size === 0) return;
    for (const [rowKey, { k, s }] of this.dirty) {
      const stored = this.windows.fetchWithTimestamp(k, s);
      // Undefined when retention dropped the window meanwhile: nothing left to say about it.
      if (stored !== undefined) {
        // The aggregate's own timestamp (the latest of its events), as Kafka Streams' record cache
        // forwards a window's last update; NO_TIMESTAMP only for a window written before aggregates
        // carried one (an upgraded store): then the window's last millisecond, as before.
        const timestamp = stored.timestamp >= 0 ? stored.timestamp : s + this.options.windowSizeMs - 1;
        this.context.forward({ key: rowKey, value: this.options.rowOf(k, s, stored.value), timestamp, headers: {} });
      }
      this.pending.delete(rowKey);
    }
    this.context.count('emitted', this.dirty.size);
    this.dirty.clear();
  }
}

export function bufferAggregateRows<R>(stream: KStream<string, PendingWindow>, options: AggregateRowBufferOptions<R> & { name: string }): KStream<string, R> {
  const result = stream.processValues<R>(() => new AggregateRowBuffer<R>(options), { name: options.name, stores: [options.windowStore] });
  stream.builder.topology.addStateStore(keyValueStoreBuilder(options.pendingStore, stringSerde, jsonSerde<PendingWindow>()), options.name);
  return result;
}

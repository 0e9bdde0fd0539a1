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
  /**
   * The row key of a window. When given, input records may carry any key (the group key, say):
   * the row key is built only for the first update of a window in an interval, not for every one.
   */
  rowKeyOf?: (key: string, windowStart: number) => string;
}

/** A pending store entry: one window (written before batches) or the windows first updated in one commit. */
type PendingEntry = PendingWindow | Array<[rowKey: string, key: string, windowStart: number]>;

/** Keys of batch entries: `b:` and a number, counted up from the highest one found at init. */
const BATCH_PREFIX = 'b:';

/**
 * Emits the latest row of each updated window at most once per interval (Kafka Streams' record
 * cache: a burst of updates to one window becomes one row). An aggregation updated by every event
 * would otherwise emit a row per event and window — with hopping windows and six aggregators,
 * about ten rows per input event.
 *
 * What must survive a crash is only *which* windows have unemitted updates: the aggregates
 * themselves are in the aggregation's changelogged window store. The windows first updated since
 * the last commit are kept in memory and written at the commit (beforeCommit) as one entry of a
 * changelogged pending store, in the same transaction as the window updates and the input
 * offsets; later updates of a dirty window cost a set lookup. The wall-clock punctuation reads
 * each dirty window's current aggregate, forwards its row and deletes the pending entries — all
 * in the task's next commit. A restarted task restores the pending store and emits what was
 * left. How updates group into rows may differ between runs; the last row per window never does.
 * (One entry per window, as this wrote before, cost a store write and a changelog record for
 * nearly every event of a high-cardinality key, and a delete for each again at emit.)
 *
 * @example
 *   const updated = table.toStream().map((w, _a) => [w.key, { k: w.key, s: w.windowStart }]);
 *   bufferAggregateRows(updated, { name: 'agg-x-buffer', windowStore: 'agg-x', pendingStore: 'agg-x-pending', intervalMs: 1000, windowSizeMs, rowOf, rowKeyOf }).to(topic);
 */
export class AggregateRowBuffer<R> implements Processor<string, PendingWindow, string, R> {
  private context!: ProcessorContext<string, R>;
  private windows!: TimestampedWindowStore<string, unknown>;
  private pending!: KeyValueStore<string, PendingEntry>;
  private readonly dirty = new Map<string, PendingWindow>();
  /** The windows in `dirty`, by group key then start: a hit costs no row key string. */
  private readonly dirtyStarts = new Map<string, Set<number>>();
  /** Dirty windows not yet in the pending store: written at the next commit. */
  private unsaved: Array<[string, string, number]> = [];
  /** Pending store keys holding dirty windows: deleted when those are emitted. */
  private readonly savedKeys: string[] = [];
  private nextBatch = 0;

  constructor(private readonly options: AggregateRowBufferOptions<R>) {}

  init(context: ProcessorContext<string, R>): void {
    this.context = context;
    this.windows = context.getStateStore(this.options.windowStore);
    this.pending = context.getStateStore(this.options.pendingStore);
    for (const { key, value } of this.pending.all()) {
      this.savedKeys.push(key);
      if (Array.isArray(value)) {
        for (const [rowKey, k, s] of value) this.markDirty(rowKey, { k, s });
        if (key.startsWith(BATCH_PREFIX)) this.nextBatch = Math.max(this.nextBatch, Number(key.slice(BATCH_PREFIX.length)) + 1);
      } else {
        this.markDirty(key, value);
      }
    }
    context.schedule(this.options.intervalMs, 'wall-clock', () => this.emit());
  }

  /** The input is the window an update touched; only its first update per interval costs more than a set lookup. */
  process(record: StreamRecord<string, PendingWindow>): void {
    const window = record.value;
    if (this.dirtyStarts.get(window.k)?.has(window.s)) return;
    const rowKey = this.options.rowKeyOf ? this.options.rowKeyOf(window.k, window.s) : record.key;
    this.markDirty(rowKey, window);
    this.unsaved.push([rowKey, window.k, window.s]);
  }

  /** The windows that became dirty since the last commit, as one pending entry of this commit. */
  beforeCommit(): void {
    if (this.unsaved.length === 0) return;
    const key = `${BATCH_PREFIX}${this.nextBatch++}`;
    this.pending.put(key, this.unsaved);
    this.savedKeys.push(key);
    this.unsaved = [];
  }

  private markDirty(rowKey: string, window: PendingWindow): void {
    this.dirty.set(rowKey, window);
    let starts = this.dirtyStarts.get(window.k);
    if (starts === undefined) this.dirtyStarts.set(window.k, (starts = new Set()));
    starts.add(window.s);
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
    }
    // Every dirty window is emitted: its pending entries go, and the unsaved ones need no entry.
    for (const key of this.savedKeys) this.pending.delete(key);
    this.savedKeys.length = 0;
    this.unsaved = [];
    this.context.count('emitted', this.dirty.size);
    this.dirty.clear();
    this.dirtyStarts.clear();
  }
}

export function bufferAggregateRows<R>(stream: KStream<string, PendingWindow>, options: AggregateRowBufferOptions<R> & { name: string }): KStream<string, R> {
  stream.builder.addStateStore(keyValueStoreBuilder(options.pendingStore, stringSerde, jsonSerde<PendingEntry>()));
  // process(), not processValues(): rows go out under their row key (rowKeyOf), not the group key they came in with.
  return stream.process<string, R>(() => new AggregateRowBuffer<R>(options), { name: options.name, stores: [options.windowStore, options.pendingStore] });
}

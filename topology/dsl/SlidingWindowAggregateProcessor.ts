import type { KeyValueStore } from '../../state/StateStore.js';
import type { Processor, ProcessorContext } from '../processor/Processor.js';
import type { StreamRecord } from '../processor/Record.js';
import type { Aggregator, EmitStrategy, Initializer } from './DslProcessors.js';
import type { SlidingWindows } from './SlidingWindows.js';
import type { Windowed } from './TimeWindows.js';
import type { TimestampedWindowStore, ValueAndTimestamp } from './TimestampedStores.js';

/**
 * Sliding-window aggregation, ported from Kafka Streams' KStreamSlidingWindowAggregate (the
 * reverse-iterator path, which its RocksDB stores take). A window exists only where records
 * are: each record has a left window [t - d, t] (it is the newest record there) and, when a
 * later record of the key lies within d after it, a right window [t + 1, t + 1 + d] (the
 * windows starting just after it). A record updates every existing window containing it,
 * creates its own left and right windows and its predecessor's right window; each update is
 * forwarded with the largest timestamp of the window's records.
 *
 * The window store's stream time is that of Kafka Streams' segmented store: the largest window
 * start written (a right window starts 1 ms after its record), and reads see windows starting
 * after streamTime - (2d + grace), as its fetches do (the store is built with retention
 * 2d + grace - 1 to make our store's bound, start >= streamTime - retention, the same).
 * The aggregation's own stream time (which closes windows) is the largest record timestamp
 * seen; after a restart it resumes from the store's stream time - 1, never above the real one
 * (Kafka Streams restarts it from nothing).
 *
 * onWindowClose (KStreamSlidingWindowAggregate with EmitStrategy.onWindowClose) forwards no
 * update; after each record that is neither late nor early (before d: Kafka Streams' processEarly
 * returns before its maybeForwardFinalResult), the windows that closed since the last emit are
 * forwarded once, final, ordered by window start then key, each with its largest record
 * timestamp: those starting in [lastEmitCloseTime - d, closeTime - d - 1] (both ends of a
 * sliding window are inclusive, so a window is closed once its end is below closeTime). The last
 * emit's close time is kept in a changelogged store (Kafka Streams: the processor metadata
 * committed with the offsets), so a restart neither repeats nor skips a window.
 */
const LAST_EMIT_CLOSE_TIME_KEY = 'last-emit-window-close-time';
/** ConsumerRecord.NO_TIMESTAMP: nothing emitted yet. */
const NO_EMIT = -1;

export class SlidingWindowAggregateProcessor<K, V, A> implements Processor<K, V, Windowed<K>, A> {
  private context!: ProcessorContext<Windowed<K>, A>;
  private store!: TimestampedWindowStore<K, A>;
  private observedStreamTime = -1;

  constructor(
    private readonly storeName: string,
    private readonly windows: SlidingWindows,
    private readonly initializer: Initializer<A>,
    private readonly aggregator: Aggregator<K, V, A>,
    private readonly emitStrategy: EmitStrategy = 'onUpdate',
    private readonly emittedStoreName?: string,
  ) {}

  private emitted: KeyValueStore<string, number> | undefined;

  init(context: ProcessorContext<Windowed<K>, A>): void {
    this.context = context;
    this.store = context.getStateStore(this.storeName);
    if (this.emitStrategy === 'onWindowClose') this.emitted = context.getStateStore<KeyValueStore<string, number>>(this.emittedStoreName!);
    if (Number.isFinite(this.store.streamTime)) this.observedStreamTime = this.store.streamTime - 1;
  }

  process(record: StreamRecord<K, V>): void {
    if (record.key === null || record.key === undefined) return this.context.count('null_key_dropped');
    if (record.value === null || record.value === undefined) return this.context.count('null_value_dropped');
    this.observedStreamTime = Math.max(this.observedStreamTime, record.timestamp);
    const closeTime = this.observedStreamTime - this.windows.graceMs;
    const d = this.windows.timeDifferenceMs;
    // Even the record's right window has closed.
    if (record.timestamp + d < closeTime) return this.context.count('late');
    if (record.timestamp < d) return this.processEarly(record, closeTime);
    this.processReverse(record, closeTime);
    if (this.emitStrategy === 'onWindowClose') this.emitClosedWindows(closeTime);
  }

  /** AbstractKStreamTimeWindowAggregateProcessor.maybeForwardFinalResult with the sliding bounds, not throttled by wall-clock time. */
  private emitClosedWindows(closeTime: number): void {
    const d = this.windows.timeDifferenceMs;
    const lastEmitCloseTime = this.emitted!.get(LAST_EMIT_CLOSE_TIME_KEY) ?? NO_EMIT;
    if (lastEmitCloseTime !== NO_EMIT && lastEmitCloseTime >= closeTime) return;
    const upper = closeTime - d - 1;
    if (upper < 0) return;
    const lower = lastEmitCloseTime === NO_EMIT ? 0 : Math.max(0, lastEmitCloseTime - d);
    // Ordered by window start, then key: Kafka Streams' time-ordered store for emit-on-close.
    for (const { key, value } of this.store.fetchAllWithTimestamp(lower, upper)) {
      const windowed = { key: key.key, windowStart: key.windowStart, windowEnd: key.windowStart + d };
      // No headers: Kafka Streams passes on those of the record that happened to close the window.
      this.context.forward({ key: windowed, value: value.value, timestamp: value.timestamp, headers: {} });
    }
    this.emitted!.put(LAST_EMIT_CLOSE_TIME_KEY, closeTime);
  }

  private processReverse(record: StreamRecord<K, V>, closeTime: number): void {
    const t = record.timestamp;
    const d = this.windows.timeDifferenceMs;
    const startTimes = new Set<number>();
    let leftWinAgg: ValueAndTimestamp<A> | undefined;
    let rightWinAgg: ValueAndTimestamp<A> | undefined;
    let leftWinAlreadyCreated = false;
    let rightWinAlreadyCreated = false;
    let previousRecordTimestamp: number | undefined;
    // Newest window first; up to t + 1 catches the record's right window if it exists.
    const found = this.store.fetchRangeWithTimestamp(record.key, Math.max(0, t - 2 * d), t + 1).reverse();
    for (const { key, value } of found) {
      const start = key.windowStart;
      startTimes.add(start);
      const end = start + d;
      if (start === t + 1) {
        rightWinAlreadyCreated = true;
      } else if (end > t) {
        rightWinAgg ??= value;
        this.updateWindowAndForward(start, value, record, closeTime);
      } else if (end === t) {
        leftWinAlreadyCreated = true;
        this.updateWindowAndForward(start, value, record, closeTime);
        // A record at t already made every window this one needs.
        if (value.timestamp < t) previousRecordTimestamp = value.timestamp;
        else return;
      } else {
        leftWinAgg = value;
        previousRecordTimestamp = value.timestamp;
        break;
      }
    }
    this.createWindows(record, closeTime, startTimes, rightWinAgg, leftWinAgg, leftWinAlreadyCreated, rightWinAlreadyCreated, previousRecordTimestamp);
  }

  /**
   * A record before d would have a left window starting before 0: such records share the window
   * [0, d] instead, and get right windows as later records come (Kafka Streams' processEarly).
   */
  private processEarly(record: StreamRecord<K, V>, closeTime: number): void {
    const t = record.timestamp;
    let combined: { start: number; value: ValueAndTimestamp<A> } | undefined;
    let rightWinAgg: ValueAndTimestamp<A> | undefined;
    let rightWinAlreadyCreated = false;
    const startTimes = new Set<number>();
    let previousRecordTimestamp: number | undefined;
    for (const { key, value } of this.store.fetchRangeWithTimestamp(record.key, 0, t + 1)) {
      const start = key.windowStart;
      startTimes.add(start);
      if (start === 0) {
        combined = { start, value };
        if (value.timestamp < t) previousRecordTimestamp = value.timestamp;
      } else if (start <= t) {
        rightWinAgg = value;
        this.updateWindowAndForward(start, value, record, closeTime);
      } else {
        rightWinAlreadyCreated = true;
      }
    }
    if (rightWinAgg === undefined && combined !== undefined && combined.value.timestamp > t) rightWinAgg = combined.value;
    if (!rightWinAlreadyCreated && rightWinAgg !== undefined && rightWinAgg.timestamp > t) this.createCurrentRecordRightWindow(t, rightWinAgg, record);
    if (previousRecordTimestamp !== undefined && !startTimes.has(previousRecordTimestamp + 1)) {
      this.updateWindowAndForward(previousRecordTimestamp + 1, this.initial(t), record, closeTime);
    }
    this.updateWindowAndForward(0, combined ? combined.value : this.initial(t), record, closeTime);
  }

  private createWindows(
    record: StreamRecord<K, V>,
    closeTime: number,
    startTimes: Set<number>,
    rightWinAgg: ValueAndTimestamp<A> | undefined,
    leftWinAgg: ValueAndTimestamp<A> | undefined,
    leftWinAlreadyCreated: boolean,
    rightWinAlreadyCreated: boolean,
    previousRecordTimestamp: number | undefined,
  ): void {
    const t = record.timestamp;
    const d = this.windows.timeDifferenceMs;
    // The previous record's right window, if this record falls in it and it does not exist yet.
    if (previousRecordTimestamp !== undefined) {
      const previousRightStart = previousRecordTimestamp + 1;
      if (!startTimes.has(previousRightStart) && previousRightStart + d >= t) {
        this.updateWindowAndForward(previousRightStart, this.initial(t), record, closeTime);
      }
    }
    if (!leftWinAlreadyCreated) {
      const leftNotEmpty = previousRecordTimestamp !== undefined && t - d <= previousRecordTimestamp;
      // Kafka Streams makes it with this record's timestamp, not the aggregate's.
      this.updateWindowAndForward(t - d, leftNotEmpty ? this.made(leftWinAgg!.value, t) : this.initial(t), record, closeTime);
    }
    if (!rightWinAlreadyCreated && rightWinAgg !== undefined && rightWinAgg.timestamp > t) this.createCurrentRecordRightWindow(t, rightWinAgg, record);
  }

  /** The record's right window holds the records after it: the aggregate of the window they were found in. */
  private createCurrentRecordRightWindow(t: number, rightWinAgg: ValueAndTimestamp<A>, record: StreamRecord<K, V>): void {
    const start = t + 1;
    this.put(record.key, rightWinAgg.value, rightWinAgg.timestamp, start);
    this.forward(record, start, rightWinAgg.value, rightWinAgg.timestamp);
  }

  /** ValueAndTimestamp.make: a null value makes no ValueAndTimestamp (the aggregator then sees null). */
  private made(value: A | undefined, timestamp: number): ValueAndTimestamp<A> | undefined {
    return value === null || value === undefined ? undefined : { value, timestamp };
  }

  private initial(timestamp: number): ValueAndTimestamp<A> | undefined {
    return this.made(this.initializer(), timestamp);
  }

  private updateWindowAndForward(start: number, old: ValueAndTimestamp<A> | undefined, record: StreamRecord<K, V>, closeTime: number): void {
    if (start + this.windows.timeDifferenceMs < closeTime) return this.context.count('late');
    const oldAgg = old?.value;
    const aggregate = this.aggregator(record.key, record.value, oldAgg as A);
    const timestamp = oldAgg === null || oldAgg === undefined ? record.timestamp : Math.max(record.timestamp, old!.timestamp);
    this.put(record.key, aggregate, timestamp, start);
    this.forward(record, start, aggregate, timestamp);
  }

  /** The segmented store's stream time moves with each window start written, before the write. */
  private put(key: K, value: A, timestamp: number, start: number): void {
    this.store.observeStreamTime(start);
    this.store.putWithTimestamp(key, value, timestamp, start);
  }

  private forward(record: StreamRecord<K, V>, start: number, value: A, timestamp: number): void {
    if (this.emitStrategy === 'onWindowClose') return;
    const key = { key: record.key, windowStart: start, windowEnd: start + this.windows.timeDifferenceMs };
    this.context.forward({ key, value, timestamp, headers: record.headers });
  }
}

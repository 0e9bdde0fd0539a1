import { jsonSerde, stringSerde } from '../state/Serde.js';
import type { KStream, Processor, ProcessorContext, StreamRecord, TimeWindows, TimestampedWindowStore, Windowed } from '../topology/index.js';
import { timestampedWindowStoreBuilder } from '../topology/dsl/TimestampedStores.js';
import type { AggregatorSpec } from './AggregationSpecs.js';
import { bucketOf, firstWindowOf, isPartialAggregate, type PartialAggregate } from './PartialAggregate.js';

/**
 * After the repartition: folds each partial aggregate (PreAggregator) into every window that
 * contains its bucket, from its first open one, with spec.merge, and forwards each window's new
 * aggregate as the DSL's windowed aggregation does (`toStream()` of a windowed KTable). The
 * window store is the same `agg-<name>` store, so queries and rows are unchanged.
 *
 * No lateness check here: the pre-aggregating node judged every event by its own partition's
 * stream time, and a partial it sent is merged whatever other partitions have done meanwhile
 * (a window is only out of reach once the store's retention has dropped it). The store's
 * stream time, which sets that retention, is the largest partial timestamp seen. A partial
 * for such a window is counted `expired` on this node and merged into its live windows only.
 *
 * A value that is not a partial was written to the repartition topic before pre-aggregation
 * (one event's projection): it is merged as a one-event partial, its member not counted as new.
 */
export class PartialMerger<A> implements Processor<string, PartialAggregate<A>, Windowed<string>, A> {
  private context!: ProcessorContext<Windowed<string>, A>;
  private store!: TimestampedWindowStore<string, A>;

  constructor(
    private readonly spec: AggregatorSpec<unknown, A>,
    private readonly windows: TimeWindows,
    private readonly storeName: string,
  ) {}

  init(context: ProcessorContext<Windowed<string>, A>): void {
    this.context = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: StreamRecord<string, PartialAggregate<A>>): void {
    const { key, timestamp } = record;
    const partial = isPartialAggregate(record.value) ? record.value : this.fromProjection(record.value, timestamp);
    const { sizeMs, advanceMs } = this.windows;
    const merge = this.spec.merge!;
    let first = Math.max(partial.f, firstWindowOf(this.windows, partial.b));
    // A window the store's retention has dropped reads as absent and takes no put: merging into it
    // would forward a row holding this partial alone, replacing the window's real row downstream.
    const liveFrom = this.store.streamTime - this.store.retentionMs;
    if (first < liveFrom) {
      this.context.count('expired');
      while (first < liveFrom) first += advanceMs;
    }
    for (let start = first; start <= partial.b; start += advanceMs) {
      const old = this.store.fetchWithTimestamp(key, start);
      const aggregate = merge(old ? old.value : this.spec.init(), partial.a as A, partial.u);
      const latest = old ? Math.max(old.timestamp, timestamp) : timestamp;
      this.store.putWithTimestamp(key, aggregate, latest, start);
      this.context.forward({ key: { key, windowStart: start, windowEnd: start + sizeMs }, value: aggregate, timestamp: latest, headers: record.headers });
    }
    // After the puts, as the DSL's aggregation: a partial's own windows are not expired under it.
    if (timestamp > this.store.streamTime) this.store.observeStreamTime(timestamp);
  }

  private fromProjection(projection: unknown, timestamp: number): PartialAggregate<A> {
    const bucket = bucketOf(this.windows, timestamp);
    return { b: bucket, f: firstWindowOf(this.windows, bucket), a: this.spec.add(this.spec.init(), projection, false), n: 1, u: 0 };
  }
}

/** The merging node and its window store (named as the DSL aggregation's, with the same retention). */
export function mergePartials<A>(
  stream: KStream<string, PartialAggregate<A>>,
  options: { name: string; storeName: string; spec: AggregatorSpec<unknown, A>; windows: TimeWindows; retentionMs?: number },
): KStream<Windowed<string>, A> {
  const { windows } = options;
  const retentionMs = Math.max(options.retentionMs ?? 0, windows.retentionMs());
  stream.builder.addStateStore(timestampedWindowStoreBuilder(options.storeName, { windowSizeMs: windows.sizeMs, retentionMs }, stringSerde, jsonSerde<A>()));
  return stream.process<Windowed<string>, A>(() => new PartialMerger<A>(options.spec, windows, options.storeName), { name: options.name, stores: [options.storeName] });
}

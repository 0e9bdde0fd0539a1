import { jsonSerde, stringSerde, type Serde } from '../../state/Serde.js';
import { sessionStore } from '../../state/RocksDBSessionStore.js';
import type { Processor } from '../processor/Processor.js';
import { StatelessProcessor, WindowAggregateProcessor, type Aggregator, type Initializer } from './DslProcessors.js';
import type { KGroupedStream, Materialized } from './KGroupedStream.js';
import { KTable } from './KTable.js';
import { SessionWindowAggregateProcessor, type Merger } from './SessionWindowAggregateProcessor.js';
import type { SessionWindows } from './SessionWindows.js';
import { SlidingWindowAggregateProcessor } from './SlidingWindowAggregateProcessor.js';
import { SlidingWindows } from './SlidingWindows.js';
import { timestampedWindowStoreBuilder } from './TimestampedStores.js';
import type { TimeWindows, Windowed } from './TimeWindows.js';
import { windowedKeyWithoutSerde } from './WindowedSerdes.js';
import type { StoreBuilder } from '../../state/StoreBuilder.js';
import { loggedAsMaterialized } from './LoggingDisabled.js';

export interface CogroupedInput<K, A> {
  group: KGroupedStream<K, unknown>;
  aggregator: Aggregator<K, unknown, A>;
}

/**
 * CogroupedStreamAggregateBuilder's windowed build: per grouped stream a COGROUPKSTREAM-AGGREGATE
 * node (the window, session or sliding aggregation with that stream's aggregator, each with its
 * own stream time), all on one store, then a COGROUPKSTREAM-MERGE node that is the table.
 */
function buildWindowedCogroup<K, A, Out>(
  inputs: Array<CogroupedInput<unknown, A>>,
  storeNamePrefix: string,
  materialized: Materialized<K, A>,
  processor: (storeName: string, aggregator: Aggregator<K, unknown, A>) => () => Processor<K, unknown, Windowed<K>, Out>,
  store: (storeName: string, keySerde: Serde<K>, valueSerde: Serde<A>) => StoreBuilder,
): KTable<Windowed<K>, Out> {
  const first = inputs[0]!.group as KGroupedStream<K, unknown>;
  const builder = first.stream.builder;
  const storeName = materialized.name ?? builder.names.next(storeNamePrefix);
  const keySerde = materialized.keySerde ?? first.keySerde ?? (stringSerde as unknown as Serde<K>);
  const valueSerde = materialized.valueSerde ?? jsonSerde<A>();
  const nodes = inputs.map(({ group, aggregator }) => {
    const name = builder.names.next('COGROUPKSTREAM-AGGREGATE');
    builder.topology.addProcessor(name, processor(storeName, aggregator as Aggregator<K, unknown, A>), group.stream.nodeName);
    return name;
  });
  builder.topology.addStateStore(loggedAsMaterialized(store(storeName, keySerde, valueSerde), materialized), ...nodes);
  const merge = builder.names.next('COGROUPKSTREAM-MERGE');
  builder.topology.addProcessor(merge, () => new StatelessProcessor<Windowed<K>, Out, Windowed<K>, Out>((record, forward) => forward(record)), ...nodes);
  return new KTable<Windowed<K>, Out>(builder, merge, storeName, windowedKeyWithoutSerde<Windowed<K>>(merge), valueSerde as unknown as Serde<Out>);
}

/** Kafka Streams' TimeWindowedCogroupedKStream: a cogroup over time windows or sliding windows. */
export class TimeWindowedCogroupedKStream<K, A> {
  constructor(
    private readonly inputs: Array<CogroupedInput<unknown, A>>,
    readonly windows: TimeWindows | SlidingWindows,
  ) {}

  aggregate(initializer: Initializer<A>, materialized: Materialized<K, A> = {}): KTable<Windowed<K>, A> {
    const windows = this.windows;
    if (windows instanceof SlidingWindows) {
      if (materialized.retentionMs !== undefined && materialized.retentionMs < windows.retentionMs()) {
        throw new Error(`retention ${materialized.retentionMs} ms is below 2 x timeDifference + grace (${windows.retentionMs()} ms)`);
      }
      const retentionMs = materialized.retentionMs ?? windows.retentionMs();
      return buildWindowedCogroup<K, A, A>(
        this.inputs,
        'COGROUPKSTREAM-AGGREGATE-STATE-STORE',
        materialized,
        (storeName, aggregator) => () => new SlidingWindowAggregateProcessor<K, unknown, A>(storeName, windows, initializer, aggregator),
        // Retention - 1: see SlidingWindowedKStream.
        (storeName, keySerde, valueSerde) => timestampedWindowStoreBuilder(storeName, { windowSizeMs: windows.timeDifferenceMs, retentionMs: retentionMs - 1 }, keySerde, valueSerde),
      );
    }
    const retentionMs = Math.max(materialized.retentionMs ?? 0, windows.retentionMs());
    return buildWindowedCogroup<K, A, A>(
      this.inputs,
      'COGROUPKSTREAM-AGGREGATE-STATE-STORE',
      materialized,
      (storeName, aggregator) => () => new WindowAggregateProcessor<K, unknown, A>(storeName, windows, initializer, aggregator, 'onUpdate', undefined, true),
      (storeName, keySerde, valueSerde) => timestampedWindowStoreBuilder(storeName, { windowSizeMs: windows.sizeMs, retentionMs }, keySerde, valueSerde),
    );
  }
}

/** Kafka Streams' SessionWindowedCogroupedKStream. Merged sessions are tombstoned, as in SessionWindowedKStream. */
export class SessionWindowedCogroupedKStream<K, A> {
  constructor(
    private readonly inputs: Array<CogroupedInput<unknown, A>>,
    readonly windows: SessionWindows,
  ) {}

  aggregate(initializer: Initializer<A>, sessionMerger: Merger<K, A>, materialized: Materialized<K, A> = {}): KTable<Windowed<K>, A | null> {
    const windows = this.windows;
    const retentionMs = Math.max(materialized.retentionMs ?? 0, windows.inactivityGapMs + windows.graceMs);
    return buildWindowedCogroup<K, A, A | null>(
      this.inputs,
      'COGROUPKSTREAM-AGGREGATE-STATE-STORE',
      materialized,
      (storeName, aggregator) => () => new SessionWindowAggregateProcessor<K, unknown, A>(storeName, windows, initializer, aggregator, sessionMerger, retentionMs),
      (storeName, keySerde, valueSerde) => sessionStore(storeName, keySerde, valueSerde),
    );
  }
}

import { jsonSerde, stringSerde, type Serde } from '../../state/Serde.js';
import { AggregateProcessor, StatelessProcessor, type Aggregator, type Initializer } from './DslProcessors.js';
import type { KGroupedStream, Materialized } from './KGroupedStream.js';
import { materializedKeyValueStore } from './KGroupedStream.js';
import { KTable } from './KTable.js';

import { SessionWindows } from './SessionWindows.js';
import type { SlidingWindows } from './SlidingWindows.js';
import type { TimeWindows } from './TimeWindows.js';
import { SessionWindowedCogroupedKStream, TimeWindowedCogroupedKStream, type CogroupedInput } from './WindowedCogroupedKStream.js';

/**
 * Several grouped streams aggregated into one table (Kafka Streams' CogroupedKStream), built as
 * CogroupedStreamAggregateBuilder builds it: one aggregate node per input stream, all on one
 * store, each applying its own aggregator to the shared aggregate, then a merge node that is
 * the table. The inputs must be co-partitioned (groupByKey() repartitions a re-keyed stream).
 */
export class CogroupedKStream<K, A> {
  /** Keyed by unknown, not K: a K here would make KGroupedStream<K> (which returns this class) invariant in K. */
  private readonly inputs: Array<CogroupedInput<unknown, A>> = [];

  constructor(first: KGroupedStream<K, unknown>, aggregator: Aggregator<K, unknown, A>) {
    this.inputs.push({ group: first as KGroupedStream<unknown, unknown>, aggregator: aggregator as Aggregator<unknown, unknown, A> });
  }

  cogroup<V>(group: KGroupedStream<K, V>, aggregator: Aggregator<K, V, A>): this {
    if (this.inputs.some((input) => input.group === (group as KGroupedStream<unknown, unknown>))) {
      throw new Error('cogroup: this grouped stream is already part of the cogroup');
    }
    this.inputs.push({ group: group as KGroupedStream<unknown, unknown>, aggregator: aggregator as Aggregator<unknown, unknown, A> });
    return this;
  }

  /** Kafka Streams' CogroupedKStream.windowedBy: the cogroup aggregated per time, sliding or session window. */
  windowedBy(windows: TimeWindows | SlidingWindows): TimeWindowedCogroupedKStream<K, A>;
  windowedBy(windows: SessionWindows): SessionWindowedCogroupedKStream<K, A>;
  windowedBy(windows: TimeWindows | SlidingWindows | SessionWindows): TimeWindowedCogroupedKStream<K, A> | SessionWindowedCogroupedKStream<K, A> {
    if (windows instanceof SessionWindows) return new SessionWindowedCogroupedKStream<K, A>(this.inputs, windows);
    return new TimeWindowedCogroupedKStream<K, A>(this.inputs, windows);
  }

  aggregate(initializer: Initializer<A>, materialized: Materialized<K, A> = {}): KTable<K, A> {
    const first = this.inputs[0]!.group as KGroupedStream<K, unknown>;
    const builder = first.stream.builder;
    const storeName = materialized.name ?? builder.names.next('COGROUPKSTREAM-AGGREGATE-STATE-STORE');
    const keySerde = materialized.keySerde ?? first.keySerde ?? (stringSerde as unknown as Serde<K>);
    const valueSerde = materialized.valueSerde ?? jsonSerde<A>();
    const aggregateNodes = this.inputs.map(({ group, aggregator }) => {
      const name = builder.names.next('COGROUPKSTREAM-AGGREGATE');
      builder.topology.addProcessor(name, () => new AggregateProcessor<K, unknown, A>(storeName, initializer, aggregator as Aggregator<K, unknown, A>), group.stream.nodeName);
      return name;
    });
    builder.topology.addStateStore(materializedKeyValueStore(storeName, keySerde, valueSerde, materialized), ...aggregateNodes);
    const merge = builder.names.next('COGROUPKSTREAM-MERGE');
    builder.topology.addProcessor(merge, () => new StatelessProcessor<K, A, K, A>((record, forward) => forward(record)), ...aggregateNodes);
    return new KTable<K, A>(builder, merge, storeName, keySerde, valueSerde);
  }
}

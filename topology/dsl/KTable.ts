import type { Serde } from '../../state/Serde.js';
import { StatelessProcessor } from './DslProcessors.js';
import { KStream } from './KStream.js';
import type { Named } from './Naming.js';
import type { StreamsBuilder } from './StreamsBuilder.js';

/**
 * A changelog stream seen as a table: the latest value per key, held in a named store that joins
 * and interactive queries read (Kafka Streams' KTable).
 */
export class KTable<K, V> {
  constructor(
    readonly builder: StreamsBuilder,
    readonly nodeName: string,
    readonly storeName: string,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
  ) {}

  /** The stream of updates to this table. */
  toStream(named?: Named): KStream<K, V> {
    const name = named?.name ?? this.builder.names.next('KTABLE-TOSTREAM');
    this.builder.topology.addProcessor(name, () => new StatelessProcessor<K, V, K, V>((record, forward) => forward(record)), this.nodeName);
    return new KStream<K, V>(this.builder, name, this.keySerde, this.valueSerde, false);
  }

  queryableStoreName(): string {
    return this.storeName;
  }
}

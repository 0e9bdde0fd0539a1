import { jsonSerde, stringSerde, type Serde } from '../../state/Serde.js';
import { TableSourceProcessor } from './DslProcessors.js';
import type { KStream } from './KStream.js';
import { KTable, type TableMaterialized } from './KTable.js';
import { keyValueStoreBuilder } from './MaterializedStores.js';

/**
 * KStreamImpl.toTable: the stream read as a changelog (latest value per key, a null value
 * deletes, a null key is dropped), through a repartition topic first when the key changed
 * upstream, so each key's updates meet in one task. The table source is Kafka Streams' own
 * KTableSource, the processor StreamsBuilder.table() uses.
 */
export function streamToTable<K, V>(stream: KStream<K, V>, materialized: TableMaterialized<V> = {}): KTable<K, V> {
  const source = stream.repartitionRequired ? stream.repartition() : stream;
  const { topology, names } = source.builder;
  const name = names.next('KSTREAM-TOTABLE');
  const storeName = materialized.name ?? names.next('KSTREAM-TOTABLE-STATE-STORE');
  const keySerde = source.keySerde ?? (stringSerde as unknown as Serde<K>);
  const valueSerde = materialized.valueSerde ?? source.valueSerde ?? jsonSerde<V>();
  topology.addProcessor(name, () => new TableSourceProcessor<K, V>(storeName), source.nodeName);
  topology.addStateStore(keyValueStoreBuilder(storeName, keySerde, valueSerde), name);
  return new KTable<K, V>(source.builder, name, storeName, keySerde, valueSerde);
}

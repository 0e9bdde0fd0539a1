import type { Serde } from '../../state/Serde.js';
import type { StreamPartitioner } from '../Topology.js';
import type { Named } from './Naming.js';

/**
 * Kafka Streams' Repartitioned: how KStream.repartition() writes its internal topic,
 * `<application id>-<name>-repartition`. With numberOfPartitions the topic gets exactly that
 * many partitions (and the sub-topology reading it that many tasks); without, the writing
 * sub-topology's count, as Kafka Streams sizes it.
 */
export interface Repartitioned<K, V> extends Named {
  keySerde?: Serde<K>;
  valueSerde?: Serde<V>;
  numberOfPartitions?: number;
  /** Repartitioned.streamPartitioner: which partitions of the repartition topic each record goes to. */
  streamPartitioner?: StreamPartitioner<K, V>;
}

export const Repartitioned = {
  as: <K, V>(name: string): Repartitioned<K, V> => ({ name }),
  numberOfPartitions: <K, V>(numberOfPartitions: number): Repartitioned<K, V> => ({ numberOfPartitions }),
  with: <K, V>(keySerde: Serde<K>, valueSerde: Serde<V>): Repartitioned<K, V> => ({ keySerde, valueSerde }),
  streamPartitioner: <K, V>(streamPartitioner: StreamPartitioner<K, V>): Repartitioned<K, V> => ({ streamPartitioner }),
};

export function validateRepartitioned(options: Repartitioned<unknown, unknown>): void {
  const n = options.numberOfPartitions;
  if (n !== undefined && !(Number.isInteger(n) && n > 0)) {
    throw new RangeError(`repartition "${options.name ?? '(unnamed)'}": numberOfPartitions must be a positive integer, got ${n}`);
  }
}

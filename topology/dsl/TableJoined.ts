import type { StreamPartitioner } from '../Topology.js';

/**
 * Kafka Streams' TableJoined (KIP-775): the partitioners and the name of a foreign-key join.
 * `partitioner` places the left table's keys (the subscription-response topic; Kafka Streams
 * otherwise answers to the partition the subscription came from), `otherPartitioner` the right
 * table's keys (the subscription-registration topic; otherwise murmur2 of the foreign key). Each
 * is called with a null value and must name one partition (or null for the default), as there.
 * A name replaces the generated names of the join's nodes, topics and subscription store
 * (`<name>-subscription-registration-topic`, `<name>-subscription-store`, `<name>-result`, …).
 */
export class TableJoined<K, KO> {
  private constructor(
    readonly partitioner: StreamPartitioner<K, null> | undefined,
    readonly otherPartitioner: StreamPartitioner<KO, null> | undefined,
    readonly name: string | undefined,
  ) {}

  static with<K, KO>(partitioner: StreamPartitioner<K, null> | undefined, otherPartitioner: StreamPartitioner<KO, null> | undefined): TableJoined<K, KO> {
    return new TableJoined(partitioner, otherPartitioner, undefined);
  }

  static as<K, KO>(name: string): TableJoined<K, KO> {
    return new TableJoined<K, KO>(undefined, undefined, name);
  }

  withPartitioner(partitioner: StreamPartitioner<K, null> | undefined): TableJoined<K, KO> {
    return new TableJoined(partitioner, this.otherPartitioner, this.name);
  }

  withOtherPartitioner(otherPartitioner: StreamPartitioner<KO, null> | undefined): TableJoined<K, KO> {
    return new TableJoined(this.partitioner, otherPartitioner, this.name);
  }

  withName(name: string): TableJoined<K, KO> {
    return new TableJoined(this.partitioner, this.otherPartitioner, name);
  }
}

/**
 * A TableJoined partitioner as the join's sink calls it (KTableImpl's getPartition): asked with a
 * null value; null keeps the default, anything but one partition is refused.
 */
export function singlePartition<K>(partitioner: StreamPartitioner<K, null>): StreamPartitioner<K, unknown> {
  return (topic, key, _value, numPartitions) => {
    const chosen = partitioner(topic, key, null, numPartitions);
    if (chosen === null || chosen === undefined) return chosen;
    if (chosen.length !== 1) throw new Error(`a foreign-key join's partitioner must choose one partition, got [${chosen.join(', ')}] for "${topic}"`);
    return chosen;
  };
}

import { jsonSerde, stringSerde, type Serde } from '../../state/Serde.js';
import { StatelessProcessor } from './DslProcessors.js';
import { KStream } from './KStream.js';
import { KGroupedTable } from './KGroupedTable.js';
import { foreignKeyJoin } from './ForeignKeyJoin.js';
import { TableRepartitionMapProcessor, type KeyValueMapper } from './KGroupedTableProcessors.js';
import { TableJoinSideProcessor, type TableJoinKind } from './KTableJoinProcessors.js';
import { TableFilterProcessor, TableMapValuesProcessor, TableMaterializeProcessor, type OldValues } from './KTableProcessors.js';
import type { Grouped } from './KStream.js';
import type { Named } from './Naming.js';
import type { StreamsBuilder } from './StreamsBuilder.js';
import { keyValueStoreBuilder } from './MaterializedStores.js';
import { suppressTable } from './Suppress.js';
import type { Suppressed } from './Suppressed.js';
import { TableJoined } from './TableJoined.js';
import { timestampedKeyValueStoreBuilder } from './TimestampedStores.js';

/** Where a KTable operation keeps its result: the store name (queryable, changelog name) and value serde. */
export interface TableMaterialized<V> extends Named {
  valueSerde?: Serde<V>;
}

/**
 * A changelog stream seen as a table: the latest value per key, held in a named store that joins
 * and interactive queries read (Kafka Streams' KTable). Its node forwards every update (the
 * record cache is off), a deletion as a null value.
 */
export class KTable<K, V> {
  constructor(
    readonly builder: StreamsBuilder,
    readonly nodeName: string,
    readonly storeName: string,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    /** Present on tables whose processor behaves differently once old values are asked for. */
    readonly oldValues?: OldValues,
  ) {}

  /** The stream of updates to this table; a deletion is a record with a null value. */
  toStream(named?: Named): KStream<K, V> {
    const name = named?.name ?? this.builder.names.next('KTABLE-TOSTREAM');
    this.builder.topology.addProcessor(name, () => new StatelessProcessor<K, V, K, V>((record, forward) => forward(record)), this.nodeName);
    return new KStream<K, V>(this.builder, name, this.keySerde, this.valueSerde, false);
  }

  queryableStoreName(): string {
    return this.storeName;
  }

  /** Kafka Streams' enableSendingOldValues: a downstream operation needs to know what each update replaced. */
  enableSendingOldValues(): void {
    if (this.oldValues) this.oldValues.enabled = true;
  }

  /** Rows failing the predicate are deleted from the result (forwarded as tombstones). */
  filter(predicate: (key: K, value: V) => boolean, materialized: TableMaterialized<V> = {}): KTable<K, V> {
    const name = this.builder.names.next('KTABLE-FILTER');
    const storeName = materialized.name ?? this.builder.names.next('KTABLE-FILTER-STATE-STORE');
    const oldValues: OldValues = { enabled: false };
    const valueSerde = materialized.valueSerde ?? this.valueSerde;
    this.builder.topology.addProcessor(name, () => new TableFilterProcessor<K, V>(storeName, predicate, oldValues), this.nodeName);
    this.builder.topology.addStateStore(keyValueStoreBuilder(storeName, this.keySerdeOrDefault(), valueSerde ?? jsonSerde<V>()), name);
    return new KTable<K, V>(this.builder, name, storeName, this.keySerde, valueSerde, oldValues);
  }

  filterNot(predicate: (key: K, value: V) => boolean, materialized: TableMaterialized<V> = {}): KTable<K, V> {
    return this.filter((key, value) => !predicate(key, value), materialized);
  }

  /** Maps present values; deletions stay deletions (the mapper never sees null). */
  mapValues<V2>(mapper: (value: V, key: K) => V2, materialized: TableMaterialized<V2> = {}): KTable<K, V2> {
    const name = this.builder.names.next('KTABLE-MAPVALUES');
    const storeName = materialized.name ?? this.builder.names.next('KTABLE-MAPVALUES-STATE-STORE');
    this.builder.topology.addProcessor(name, () => new TableMapValuesProcessor<K, V, V2>(storeName, mapper), this.nodeName);
    this.builder.topology.addStateStore(keyValueStoreBuilder(storeName, this.keySerdeOrDefault(), materialized.valueSerde ?? jsonSerde<V2>()), name);
    return new KTable<K, V2>(this.builder, name, storeName, this.keySerde, materialized.valueSerde);
  }

  /**
   * Inner table-table join on the key: a row exists while both sides have one. With a
   * foreignKeyExtractor, the foreign-key join (ForeignKeyJoin.ts): each row joins the other
   * table's row of the key it names.
   */
  join<V2, R>(other: KTable<K, V2>, joiner: (value: V, otherValue: V2) => R, materialized?: TableMaterialized<R>): KTable<K, R>;
  join<KO, VO, R>(
    other: KTable<KO, VO>,
    foreignKeyExtractor: (value: V) => KO | null | undefined,
    joiner: (value: V, foreignValue: VO) => R,
    materialized?: TableMaterialized<R>,
  ): KTable<K, R>;
  join<KO, VO, R>(
    other: KTable<KO, VO>,
    foreignKeyExtractor: (value: V) => KO | null | undefined,
    joiner: (value: V, foreignValue: VO) => R,
    tableJoined: TableJoined<K, KO>,
    materialized?: TableMaterialized<R>,
  ): KTable<K, R>;
  join<KO, VO, R>(
    other: KTable<KO, VO>,
    second: (value: V, other: VO) => unknown,
    third?: TableMaterialized<R> | ((value: V, foreignValue: VO) => R),
    fourth?: TableMaterialized<R> | TableJoined<K, KO>,
    fifth?: TableMaterialized<R>,
  ): KTable<K, R> {
    if (typeof third === 'function') {
      const [tableJoined, materialized] = fourth instanceof TableJoined ? [fourth, fifth] : [undefined, fourth];
      return foreignKeyJoin(this, other, second as (value: V) => KO, third as (value: V | undefined, foreignValue: VO | undefined) => R, false, materialized ?? {}, tableJoined);
    }
    const joiner = second as (value: V | undefined, otherValue: VO | undefined) => R;
    return this.joinTable(other as unknown as KTable<K, VO>, joiner, false, false, third ?? {});
  }

  /** Left table-table join: a row exists while this side has one; the other side may be undefined. With a foreignKeyExtractor, the left foreign-key join. */
  leftJoin<V2, R>(other: KTable<K, V2>, joiner: (value: V, otherValue: V2 | undefined) => R, materialized?: TableMaterialized<R>): KTable<K, R>;
  leftJoin<KO, VO, R>(
    other: KTable<KO, VO>,
    foreignKeyExtractor: (value: V) => KO | null | undefined,
    joiner: (value: V, foreignValue: VO | undefined) => R,
    materialized?: TableMaterialized<R>,
  ): KTable<K, R>;
  leftJoin<KO, VO, R>(
    other: KTable<KO, VO>,
    foreignKeyExtractor: (value: V) => KO | null | undefined,
    joiner: (value: V, foreignValue: VO | undefined) => R,
    tableJoined: TableJoined<K, KO>,
    materialized?: TableMaterialized<R>,
  ): KTable<K, R>;
  leftJoin<KO, VO, R>(
    other: KTable<KO, VO>,
    second: (value: V, other: VO | undefined) => unknown,
    third?: TableMaterialized<R> | ((value: V, foreignValue: VO | undefined) => R),
    fourth?: TableMaterialized<R> | TableJoined<K, KO>,
    fifth?: TableMaterialized<R>,
  ): KTable<K, R> {
    if (typeof third === 'function') {
      const [tableJoined, materialized] = fourth instanceof TableJoined ? [fourth, fifth] : [undefined, fourth];
      return foreignKeyJoin(this, other, second as (value: V) => KO, third as (value: V | undefined, foreignValue: VO | undefined) => R, true, materialized ?? {}, tableJoined);
    }
    const joiner = second as (value: V | undefined, otherValue: VO | undefined) => R;
    return this.joinTable(other as unknown as KTable<K, VO>, joiner, true, false, third ?? {});
  }

  /** Outer table-table join: a row exists while either side has one; the missing side is undefined. */
  outerJoin<V2, R>(other: KTable<K, V2>, joiner: (value: V | undefined, otherValue: V2 | undefined) => R, materialized: TableMaterialized<R> = {}): KTable<K, R> {
    return this.joinTable(other, joiner, true, true, materialized);
  }

  /**
   * KTableImpl.doJoin: a processor per side (KTABLE-JOINTHIS / KTABLE-JOINOTHER), each reading
   * the other side's timestamped copy, and a merger materializing the result.
   */
  private joinTable<V2, R>(
    other: KTable<K, V2>,
    joiner: (value: V | undefined, otherValue: V2 | undefined) => R,
    leftOuter: boolean,
    rightOuter: boolean,
    materialized: TableMaterialized<R>,
  ): KTable<K, R> {
    const { topology, names } = this.builder;
    if (leftOuter) this.enableSendingOldValues();
    if (rightOuter) other.enableSendingOldValues();
    const thisName = names.next('KTABLE-JOINTHIS');
    const otherName = names.next('KTABLE-JOINOTHER');
    const mergeName = names.next('KTABLE-MERGE');
    const thisCopy = `${thisName}-STORE`;
    const otherCopy = `${otherName}-STORE`;
    const storeName = materialized.name ?? names.next('KTABLE-MERGE-STATE-STORE');
    const keySerde = this.keySerdeOrDefault();
    const thisKind: TableJoinKind = rightOuter ? 'outer' : leftOuter ? 'left' : 'inner';
    const otherKind: TableJoinKind = rightOuter ? 'outer' : leftOuter ? 'right' : 'inner';
    topology.addProcessor(thisName, () => new TableJoinSideProcessor<K, V, V2, R>(thisCopy, otherCopy, thisKind, joiner), this.nodeName);
    topology.addProcessor(otherName, () => new TableJoinSideProcessor<K, V2, V, R>(otherCopy, thisCopy, otherKind, (o, t) => joiner(t, o)), other.nodeName);
    topology.addStateStore(timestampedKeyValueStoreBuilder(thisCopy, keySerde, this.valueSerde ?? jsonSerde<V>()), thisName, otherName);
    topology.addStateStore(timestampedKeyValueStoreBuilder(otherCopy, keySerde, other.valueSerde ?? jsonSerde<V2>()), thisName, otherName);
    topology.addProcessor(mergeName, () => new TableMaterializeProcessor<K, R>(storeName), thisName, otherName);
    topology.addStateStore(keyValueStoreBuilder(storeName, keySerde, materialized.valueSerde ?? jsonSerde<R>()), mergeName);
    return new KTable<K, R>(this.builder, mergeName, storeName, this.keySerde, materialized.valueSerde);
  }

  /**
   * Regroups the table's rows by a new key and value (KTableImpl.groupBy): each update moves a row
   * out of its old group and into its new one, through a repartition topic.
   */
  groupBy<K2, V2>(selector: KeyValueMapper<K, V, K2, V2>, grouped: Grouped<K2, V2> = {}): KGroupedTable<K2, V2> {
    const name = grouped.name ?? this.builder.names.next('KTABLE-SELECT');
    const previous = `${name}-PREVIOUS-STORE`;
    this.enableSendingOldValues();
    this.builder.topology.addProcessor(name, () => new TableRepartitionMapProcessor<K, V, K2, V2>(previous, selector), this.nodeName);
    this.builder.topology.addStateStore(keyValueStoreBuilder(previous, this.keySerdeOrDefault(), this.valueSerde ?? jsonSerde<V>()), name);
    return new KGroupedTable<K2, V2>(this.builder, name, grouped.keySerde, grouped.valueSerde);
  }

  /**
   * Holds updates back (Kafka Streams' suppress): until a window closes (final results of a
   * windowed aggregation) or until a time limit passes per key. The result is the same table,
   * updated later: interactive queries still read the table before suppression.
   */
  suppress(suppressed: Suppressed): KTable<K, V> {
    return suppressTable(this, suppressed);
  }

  private keySerdeOrDefault(): Serde<K> {
    return this.keySerde ?? (stringSerde as unknown as Serde<K>);
  }
}

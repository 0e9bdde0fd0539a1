import type { KeyValueStore } from '../../state/StateStore.js';
import type { Processor, ProcessorContext } from '../processor/Processor.js';
import type { StreamRecord } from '../processor/Record.js';
import type { Change } from './ChangeSerde.js';
import type { Initializer } from './DslProcessors.js';
import { isNull } from './KTableProcessors.js';
import type { TimestampedKeyValueStore } from './TimestampedStores.js';

/**
 * The processors of KTable.groupBy(...).aggregate/reduce/count (Kafka Streams'
 * KTableRepartitionMap, KTableAggregate, KTableReduce).
 */

export type KeyValueMapper<K, V, K2, V2> = (key: K, value: V) => [K2, V2];

/**
 * KTableRepartitionMap: each table update becomes the removal of the old row from its group and
 * the addition of the new row to its group, one record when both groups are the same (KIP-904),
 * else the removal first. The table's previous value per key is kept in a copy store (Kafka
 * Streams has its parent send it along, having made the parent send old values).
 * A selected pair with a null key or value is skipped.
 */
export class TableRepartitionMapProcessor<K, V, K2, V2> implements Processor<K, V | null, K2, Change<V2>> {
  private context!: ProcessorContext<K2, Change<V2>>;
  private previous!: KeyValueStore<K, V>;

  constructor(
    private readonly previousStoreName: string,
    private readonly selector: KeyValueMapper<K, V, K2, V2>,
  ) {}

  init(context: ProcessorContext<K2, Change<V2>>): void {
    this.context = context;
    this.previous = context.getStateStore(this.previousStoreName);
  }

  process(record: StreamRecord<K, V | null>): void {
    if (isNull(record.key)) return this.context.count('null_key_dropped');
    const old = this.previous.get(record.key);
    if (isNull(record.value)) this.previous.delete(record.key);
    else this.previous.put(record.key, record.value);
    const newPair = isNull(record.value) ? undefined : this.selector(record.key, record.value);
    const oldPair = old === undefined ? undefined : this.selector(record.key, old);
    const present = (pair: [K2, V2] | undefined): pair is [K2, V2] => pair !== undefined && !isNull(pair[0]) && !isNull(pair[1]);
    const { timestamp, headers } = record;
    if (present(oldPair) && present(newPair) && sameKey(oldPair[0], newPair[0])) {
      this.context.forward({ key: oldPair[0], value: { newValue: newPair[1], oldValue: oldPair[1] }, timestamp, headers });
      return;
    }
    if (present(oldPair)) this.context.forward({ key: oldPair[0], value: { newValue: null, oldValue: oldPair[1] }, timestamp, headers });
    if (present(newPair)) this.context.forward({ key: newPair[0], value: { newValue: newPair[1], oldValue: null }, timestamp, headers });
  }
}

/** Keys are compared as Kafka Streams compares them after deserialization: by value, not identity. */
function sameKey(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * KTableAggregate: the old value is subtracted from its group's aggregate, the new one added.
 * The aggregate carries the largest timestamp of the updates that made it.
 */
export class TableAggregateProcessor<K, V, A> implements Processor<K, Change<V>, K, A | null> {
  private context!: ProcessorContext<K, A | null>;
  private store!: TimestampedKeyValueStore<K, A>;

  constructor(
    private readonly storeName: string,
    private readonly initializer: Initializer<A>,
    private readonly adder: (key: K, value: V, aggregate: A) => A,
    private readonly subtractor: (key: K, value: V, aggregate: A) => A,
  ) {}

  init(context: ProcessorContext<K, A | null>): void {
    this.context = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: StreamRecord<K, Change<V>>): void {
    if (isNull(record.key)) return this.context.count('null_key_dropped');
    const { newValue, oldValue } = record.value;
    const old = this.store.getWithTimestamp(record.key);
    let timestamp = record.timestamp;
    let aggregate: A | undefined = old?.value;
    if (!isNull(oldValue) && old !== undefined) {
      aggregate = this.subtractor(record.key, oldValue, old.value);
      timestamp = Math.max(record.timestamp, old.timestamp);
    }
    if (!isNull(newValue)) {
      aggregate = this.adder(record.key, newValue, isNull(aggregate) ? this.initializer() : aggregate);
      if (old !== undefined) timestamp = Math.max(record.timestamp, old.timestamp);
    }
    forwardAggregate(this.context, this.store, record, aggregate, timestamp);
  }
}

/** KTableReduce: as the aggregate, with the first value of a group as its initial aggregate. */
export class TableReduceProcessor<K, V> implements Processor<K, Change<V>, K, V | null> {
  private context!: ProcessorContext<K, V | null>;
  private store!: TimestampedKeyValueStore<K, V>;

  constructor(
    private readonly storeName: string,
    private readonly adder: (aggregate: V, value: V) => V,
    private readonly subtractor: (aggregate: V, value: V) => V,
  ) {}

  init(context: ProcessorContext<K, V | null>): void {
    this.context = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: StreamRecord<K, Change<V>>): void {
    if (isNull(record.key)) return this.context.count('null_key_dropped');
    const { newValue, oldValue } = record.value;
    const old = this.store.getWithTimestamp(record.key);
    let timestamp = record.timestamp;
    let aggregate: V | undefined = old?.value;
    if (!isNull(oldValue) && old !== undefined) {
      aggregate = this.subtractor(old.value, oldValue);
      timestamp = Math.max(record.timestamp, old.timestamp);
    }
    if (!isNull(newValue)) {
      if (isNull(aggregate)) {
        aggregate = newValue;
      } else {
        aggregate = this.adder(aggregate, newValue);
        // As KTableReduce: reached only with an old aggregate (a subtraction never yields undefined here).
        timestamp = Math.max(record.timestamp, old?.timestamp ?? record.timestamp);
      }
    }
    forwardAggregate(this.context, this.store, record, aggregate, timestamp);
  }
}

function forwardAggregate<K, A>(
  context: ProcessorContext<K, A | null>,
  store: TimestampedKeyValueStore<K, A>,
  record: StreamRecord<K, unknown>,
  aggregate: A | undefined | null,
  timestamp: number,
): void {
  if (isNull(aggregate)) store.delete(record.key);
  else store.putWithTimestamp(record.key, aggregate, timestamp);
  context.forward({ key: record.key, value: isNull(aggregate) ? null : aggregate, timestamp, headers: record.headers });
}

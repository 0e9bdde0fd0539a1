import type { KeyValueStore } from '../../state/StateStore.js';
import type { Processor, ProcessorContext } from '../processor/Processor.js';
import type { StreamRecord } from '../processor/Record.js';

/**
 * The processors behind KTable operations (Kafka Streams' KTableFilter, KTableMapValues,
 * KTableKTableJoinMerger; the join sides are in KTableJoinProcessors.ts).
 *
 * A KTable's node forwards each update as a plain record: the new value, null for a deletion.
 * Kafka Streams forwards Change<V> (new and, when a downstream operation asked for it, old
 * value). Our KTable processors keep their own state instead: each materializes its output
 * (so its previous output is the old value) and a join keeps a timestamped copy of each side
 * (so the other side's value and timestamp are a lookup away, as Kafka Streams' value getters
 * read the parents' stores). The records forwarded are those Kafka Streams forwards, on the
 * same conditions; docs/KAFKA-STREAMS.md lists what is materialized where Kafka Streams would not.
 */

/** Set when an operation downstream needs old values (Kafka Streams' enableSendingOldValues). */
export interface OldValues {
  enabled: boolean;
}

export const isNull = (value: unknown): value is null | undefined => value === null || value === undefined;

function putOrDelete<K, V>(store: KeyValueStore<K, V>, key: K, value: V | null): void {
  if (isNull(value)) store.delete(key);
  else store.put(key, value);
}

/**
 * KTableFilter: an update that fails the predicate becomes a deletion. When a downstream
 * operation asked for old values, an update whose old and new filtered values are both absent
 * is not forwarded (nothing changed for downstream); otherwise it is, as a tombstone.
 */
export class TableFilterProcessor<K, V> implements Processor<K, V | null, K, V | null> {
  private context!: ProcessorContext<K, V | null>;
  private store!: KeyValueStore<K, V>;

  constructor(
    private readonly storeName: string,
    private readonly predicate: (key: K, value: V) => boolean,
    private readonly oldValues: OldValues,
  ) {}

  init(context: ProcessorContext<K, V | null>): void {
    this.context = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: StreamRecord<K, V | null>): void {
    if (isNull(record.key)) return this.context.count('null_key_dropped');
    const newValue = !isNull(record.value) && this.predicate(record.key, record.value) ? record.value : null;
    if (this.oldValues.enabled && newValue === null && this.store.get(record.key) === undefined) return;
    putOrDelete(this.store, record.key, newValue);
    this.context.forward({ key: record.key, value: newValue, timestamp: record.timestamp, headers: record.headers });
  }
}

/** KTableMapValues: the mapper sees present values only; a deletion stays a deletion. */
export class TableMapValuesProcessor<K, V, V2> implements Processor<K, V | null, K, V2 | null> {
  private context!: ProcessorContext<K, V2 | null>;
  private store!: KeyValueStore<K, V2>;

  constructor(
    private readonly storeName: string,
    private readonly mapper: (value: V, key: K) => V2,
  ) {}

  init(context: ProcessorContext<K, V2 | null>): void {
    this.context = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: StreamRecord<K, V | null>): void {
    if (isNull(record.key)) return this.context.count('null_key_dropped');
    const newValue = isNull(record.value) ? null : this.mapper(record.value, record.key);
    putOrDelete(this.store, record.key, newValue);
    this.context.forward({ key: record.key, value: newValue, timestamp: record.timestamp, headers: record.headers });
  }
}

/** KTableKTableJoinMerger: both sides' results become one table, materialized for lookups. */
export class TableMaterializeProcessor<K, V> implements Processor<K, V | null, K, V | null> {
  private context!: ProcessorContext<K, V | null>;
  private store!: KeyValueStore<K, V>;

  constructor(private readonly storeName: string) {}

  init(context: ProcessorContext<K, V | null>): void {
    this.context = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: StreamRecord<K, V | null>): void {
    putOrDelete(this.store, record.key, record.value);
    this.context.forward(record);
  }
}

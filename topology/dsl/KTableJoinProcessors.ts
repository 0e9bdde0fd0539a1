import type { Processor, ProcessorContext } from '../processor/Processor.js';
import type { StreamRecord } from '../processor/Record.js';
import { isNull } from './KTableProcessors.js';
import type { TimestampedKeyValueStore } from './TimestampedStores.js';

/** Which Kafka Streams join processor a side is: the left table's side or the right table's. */
export type TableJoinKind = 'inner' | 'left' | 'right' | 'outer';

/**
 * One side of a table-table join (KTableKTableInnerJoin / LeftJoin / RightJoin / OuterJoin):
 * its own updates go into its copy of this side, the other side's copy is looked up. The result
 * carries the larger timestamp of the two sides' values. The joiner is called with this side's
 * value first (the right side's processor gets the reversed joiner, as in Kafka Streams).
 * Left and outer joins make their "this" side send old values: an update that neither had nor
 * has a value, with no match on the other side, is not forwarded.
 */
export class TableJoinSideProcessor<K, V1, V2, R> implements Processor<K, V1 | null, K, R | null> {
  private context!: ProcessorContext<K, R | null>;
  private thisSide!: TimestampedKeyValueStore<K, V1>;
  private otherSide!: TimestampedKeyValueStore<K, V2>;

  constructor(
    private readonly thisStoreName: string,
    private readonly otherStoreName: string,
    private readonly kind: TableJoinKind,
    private readonly joiner: (thisValue: V1 | undefined, otherValue: V2 | undefined) => R,
  ) {}

  init(context: ProcessorContext<K, R | null>): void {
    this.context = context;
    this.thisSide = context.getStateStore(this.thisStoreName);
    this.otherSide = context.getStateStore(this.otherStoreName);
  }

  process(record: StreamRecord<K, V1 | null>): void {
    if (isNull(record.key)) return this.context.count('null_key_dropped');
    const newValue = isNull(record.value) ? undefined : record.value;
    const hadValue = this.thisSide.getWithTimestamp(record.key) !== undefined;
    if (newValue === undefined) this.thisSide.delete(record.key);
    else this.thisSide.putWithTimestamp(record.key, newValue, record.timestamp);
    const other = this.otherSide.getWithTimestamp(record.key);
    let result: R | null = null;
    if (other === undefined) {
      if (this.kind === 'inner' || this.kind === 'right') return this.context.count('join_miss');
      if (newValue === undefined && !hadValue) return;
      if (newValue !== undefined) result = this.joiner(newValue, undefined);
    } else if (newValue !== undefined || this.kind === 'right' || this.kind === 'outer') {
      result = this.joiner(newValue, other.value);
    }
    const timestamp = other === undefined ? record.timestamp : Math.max(record.timestamp, other.timestamp);
    this.context.forward({ key: record.key, value: result, timestamp, headers: record.headers });
  }
}

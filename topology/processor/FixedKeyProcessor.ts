import type { RecordHeaders } from '../../log/Log.js';
import type { ProcessorContext } from './Processor.js';
import type { StreamRecord } from './Record.js';

// A phantom brand: no FixedKeyRecord value carries it at runtime; the type system does.
declare const fixedKey: unique symbol;

/**
 * A record whose key a processValues() node cannot change (Kafka Streams' FixedKeyRecord). The
 * only ways to make one are the input record itself and fixedKeyRecord() from it, which copies
 * the key: a FixedKeyProcessor cannot forward a record under another key.
 */
export type FixedKeyRecord<K, V> = Readonly<StreamRecord<K, V>> & { readonly [fixedKey]: K };

/** The input record with another value, and optionally another timestamp or headers; the key stays (Kafka Streams' withValue/withTimestamp/withHeaders). */
export function fixedKeyRecord<K, V, V2>(record: FixedKeyRecord<K, V>, value: V2, changes: { timestamp?: number; headers?: RecordHeaders } = {}): FixedKeyRecord<K, V2> {
  return { key: record.key, value, timestamp: changes.timestamp ?? record.timestamp, headers: changes.headers ?? record.headers } as FixedKeyRecord<K, V2>;
}

/** ProcessorContext whose forward() takes only records made from the input (Kafka Streams' FixedKeyProcessorContext). */
export interface FixedKeyProcessorContext<K, VOut> extends Omit<ProcessorContext<K, VOut>, 'forward'> {
  forward<V extends VOut>(record: FixedKeyRecord<K, V>, childName?: string): void;
}

/** A processValues() node: may change values, timestamps and headers, drop or multiply records, never the key. */
export interface FixedKeyProcessor<K, VIn, VOut = VIn> {
  init?(context: FixedKeyProcessorContext<K, VOut>): void;
  process(record: FixedKeyRecord<K, VIn>): void;
  /** As Processor.beforeCommit. */
  beforeCommit?(): void;
  close?(): void;
}

export type FixedKeyProcessorSupplier<K, VIn, VOut = VIn> = () => FixedKeyProcessor<K, VIn, VOut>;

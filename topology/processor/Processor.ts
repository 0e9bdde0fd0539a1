import type { StateStore } from '../../state/StateStore.js';
import type { RecordMetadata, StreamRecord } from './Record.js';

/**
 * The Processor API: everything the DSL builds is made of these. Processing is synchronous on
 * purpose: a task processes one record at a time in offset order, store reads are synchronous,
 * and anything produced waits in the task until the commit makes it visible.
 */
export interface Processor<KIn, VIn, KOut = KIn, VOut = VIn> {
  init?(context: ProcessorContext<KOut, VOut>): void;
  process(record: StreamRecord<KIn, VIn>): void;
  /**
   * Called by the task at each commit, before it collects its outputs and store changes for the
   * commit's transaction: what this writes to stores or forwards commits with the input offsets
   * (Kafka Streams' caches flush at the same point). For state kept in memory between records
   * that must survive a crash, written once per commit instead of once per record.
   */
  beforeCommit?(): void;
  close?(): void;
}

export type ProcessorSupplier<KIn, VIn, KOut = KIn, VOut = VIn> = () => Processor<KIn, VIn, KOut, VOut>;

/** Stream time advances with the largest record timestamp a task has seen; wall-clock with Date.now(). */
export type PunctuationType = 'stream-time' | 'wall-clock';

export type Punctuator = (timestamp: number) => void;

export interface Cancellable {
  cancel(): void;
}

export interface ProcessorContext<KOut, VOut> {
  readonly applicationId: string;
  /** "<subtopology>_<partition>", as Kafka Streams names tasks. */
  readonly taskId: string;
  readonly partition: number;
  /**
   * Sends a record to every child, or to the named child only. The value must not be changed
   * afterwards: sinks may reuse the bytes another sink serialised from the same object, and
   * stores hand the object back on reads before the commit (state/Serde.ts).
   */
  forward<K extends KOut, V extends VOut>(record: StreamRecord<K, V>, childName?: string): void;
  schedule(intervalMs: number, type: PunctuationType, punctuator: Punctuator): Cancellable;
  getStateStore<S extends StateStore>(name: string): S;
  /** Metadata of the input record being processed; undefined inside a punctuation. */
  recordMetadata(): RecordMetadata | undefined;
  currentStreamTimeMs(): number;
  currentSystemTimeMs(): number;
  /** Asks the runtime to commit as soon as the current record is done. */
  commit(): void;
  /** Counts an outcome of this processor (duplicate, late, miss, blocked, ...) in Prometheus. */
  count(outcome: string, amount?: number): void;
}

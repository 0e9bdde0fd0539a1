import { jsonSerde, stringSerde } from '../state/Serde.js';
import type { KeyValueStore } from '../state/StateStore.js';
import { keyValueStoreBuilder, type KStream, type Processor, type ProcessorContext, type StreamRecord } from '../topology/index.js';
import { processKeepingKey } from './StreamNodes.js';

/**
 * Forwards at most one record per key per interval: the latest (Kafka Streams' record cache,
 * which turns a burst of updates to one window into one downstream row per commit interval).
 * An aggregation updated by every event would otherwise emit a row per event and window: with
 * hopping windows and six aggregators, about ten rows per input event.
 *
 * The pending rows live in a changelogged key-value store, so rows of committed input are never
 * lost to a crash: the store and the outputs commit together, and a restored store is emitted by
 * the next punctuation. An in-memory index of the pending keys spares each punctuation a RocksDB
 * scan over the tombstones of the rows already emitted. Wall-clock punctuation: rows must flow
 * when input pauses too; how updates are grouped into rows may differ between runs, the last
 * row per key never does.
 *
 * @example
 *   bufferLatest(rows, { name: 'agg-rows-buffer', storeName: 'agg-rows-pending', intervalMs: 1000 }).to('processor.aggregates');
 */
export class LatestRowBuffer<V> implements Processor<string, V, string, V> {
  private context!: ProcessorContext<string, V>;
  private store!: KeyValueStore<string, { value: V; timestamp: number }>;
  private readonly pending = new Set<string>();

  constructor(
    private readonly storeName: string,
    private readonly intervalMs: number,
  ) {}

  init(context: ProcessorContext<string, V>): void {
    this.context = context;
    this.store = context.getStateStore(this.storeName);
    for (const { key } of this.store.all()) this.pending.add(key);
    context.schedule(this.intervalMs, 'wall-clock', () => this.emit());
  }

  process(record: StreamRecord<string, V>): void {
    this.store.put(record.key, { value: record.value, timestamp: record.timestamp });
    this.pending.add(record.key);
  }

  private emit(): void {
    if (this.pending.size === 0) return;
    for (const key of this.pending) {
      const entry = this.store.get(key);
      if (entry !== undefined) this.context.forward({ key, value: entry.value, timestamp: entry.timestamp, headers: {} });
      this.store.delete(key);
    }
    this.context.count('emitted', this.pending.size);
    this.pending.clear();
  }
}

export function bufferLatest<V>(stream: KStream<string, V>, options: { name: string; storeName: string; intervalMs: number }): KStream<string, V> {
  const result = processKeepingKey<string, V, V>(stream, options.name, () => new LatestRowBuffer<V>(options.storeName, options.intervalMs));
  stream.builder.topology.addStateStore(keyValueStoreBuilder(options.storeName, stringSerde, jsonSerde<{ value: V; timestamp: number }>()), options.name);
  return result;
}

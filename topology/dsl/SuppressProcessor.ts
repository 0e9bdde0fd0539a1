import type { Serde } from '../../state/Serde.js';
import type { KeyValueStore } from '../../state/StateStore.js';
import type { Processor, ProcessorContext } from '../processor/Processor.js';
import type { StreamRecord } from '../processor/Record.js';
import type { BufferConfig } from './Suppressed.js';
import type { Windowed } from './TimeWindows.js';
import { NamedError } from '../../errors/NamedError.js';

/** A buffered update: its place in the buffer (time), the latest value and that value's record timestamp. */
export interface BufferedUpdate<V> {
  time: number;
  value: V | null;
  timestamp: number;
}

/** Stored bytes: time and timestamp as big-endian int64, a presence byte, then the value's bytes. */
export function bufferedUpdateSerde<V>(inner: Serde<V>): Serde<BufferedUpdate<V>> {
  return {
    serialize: ({ time, value, timestamp }) => {
      const head = Buffer.allocUnsafe(17);
      head.writeBigInt64BE(BigInt(time), 0);
      head.writeBigInt64BE(BigInt(timestamp), 8);
      head[16] = value === null || value === undefined ? 0 : 1;
      return head[16] === 0 ? head : Buffer.concat([head, inner.serialize(value as V)]);
    },
    deserialize: (bytes) => ({
      time: Number(bytes.readBigInt64BE(0)),
      timestamp: Number(bytes.readBigInt64BE(8)),
      value: bytes[16] === 1 ? inner.deserialize(bytes.subarray(17)) : null,
    }),
  };
}

export class BufferFullError extends NamedError {}

interface Entry<K, V> {
  key: K;
  order: Buffer;
  update: BufferedUpdate<V>;
  bytes: number;
}

const isWindowed = (key: unknown): key is Windowed<unknown> =>
  typeof key === 'object' && key !== null && typeof (key as Windowed<unknown>).windowStart === 'number' && typeof (key as Windowed<unknown>).windowEnd === 'number';

/**
 * The bytes that identify a buffer entry and order entries with the same time: Kafka Streams
 * uses the serialized key, which for string keys is their UTF-8 and for time-windowed keys the
 * inner key's bytes then the window start (big-endian); other keys by their JSON text.
 */
export function orderBytes(key: unknown): Buffer {
  if (typeof key === 'string') return Buffer.from(key, 'utf8');
  if (isWindowed(key)) {
    const start = Buffer.allocUnsafe(8);
    start.writeBigInt64BE(BigInt(key.windowStart), 0);
    return Buffer.concat([orderBytes(key.key), start]);
  }
  return Buffer.from(JSON.stringify(key) ?? '', 'utf8');
}

/**
 * orderBytes for a session-windowed table: Kafka Streams' session-windowed key is the inner key's
 * bytes, the session end, then its start. The end is part of the key: a session extended from
 * [s, e1] to [s, e2] is another entry (the old one gets the aggregation's tombstone), not an update
 * of the old one keeping its earlier buffer time.
 */
export function sessionOrderBytes(key: unknown): Buffer {
  if (!isWindowed(key)) return orderBytes(key);
  return Buffer.concat([orderBytes(key.key), sessionEndStartBytes(key)]);
}

/** A session's end then its start, big-endian int64s: how Kafka Streams' session key schemas write its times. */
export function sessionEndStartBytes(session: Windowed<unknown>): Buffer {
  const times = Buffer.allocUnsafe(16);
  times.writeBigInt64BE(BigInt(session.windowEnd), 0);
  times.writeBigInt64BE(BigInt(session.windowStart), 8);
  return times;
}

/**
 * KTableSuppressProcessor with Kafka Streams' in-memory time-ordered buffer
 * (InMemoryTimeOrderedKeyValueChangeBuffer): one entry per key, placed at the time of its first
 * buffered update (non-resetting: later updates replace the value in place), evicted in
 * (time, key) order once stream time minus the suppression duration reaches that time, or
 * earlier when the buffer is over capacity and may emit early. Stream time is that of the
 * records reaching this node, starting over after a restart as in Kafka Streams. The buffer is
 * a changelogged store: after a restore, the entries are read back from it in init().
 * shutDownWhenFull: Kafka Streams stops the stream thread; here the record that would overfill
 * the buffer fails (BufferFullError, counted as suppress_buffer_full) and goes where failed
 * records go (the DLQ), leaving the buffer as it was.
 */
export class SuppressProcessor<K, V> implements Processor<K, V | null, K, V | null> {
  private context!: ProcessorContext<K, V | null>;
  private store!: KeyValueStore<K, BufferedUpdate<V>>;
  private entries: Array<Entry<K, V>> = [];
  private byOrder = new Map<string, Entry<K, V>>();
  private bufferBytes = 0;
  private observedStreamTime = -1;
  /** Store writes of the record being processed, applied once it is accepted (undefined deletes). */
  private pendingWrites: Array<[K, BufferedUpdate<V> | undefined]> = [];

  constructor(
    private readonly storeName: string,
    /** The buffer time of an update: its timestamp (time limit) or its window's end (window close). */
    private readonly bufferTime: (key: K, timestamp: number) => number,
    private readonly suppressDurationMs: number,
    private readonly buffer: BufferConfig,
    /** Final results drop deletions; a time limit passes them. */
    private readonly dropTombstones: boolean,
    private readonly sizeOf: (key: K, update: BufferedUpdate<V>) => number,
    /** A key's identity and tie-break order in the buffer (sessionOrderBytes for session windows). */
    private readonly orderOf: (key: K) => Buffer = orderBytes,
  ) {}

  init(context: ProcessorContext<K, V | null>): void {
    this.context = context;
    this.store = context.getStateStore(this.storeName);
    for (const { key, value } of this.store.all()) this.insert(key, value);
  }

  process(record: StreamRecord<K, V | null>): void {
    this.observedStreamTime = Math.max(this.observedStreamTime, record.timestamp);
    // A buffer that must not overflow refuses the record whole: the runtime rolls back what it
    // forwarded, so the buffer (memory and store) must be as it was too.
    const failsWhenFull = this.buffer.whenFull === 'shutDownWhenFull' && (Number.isFinite(this.buffer.maxRecords) || Number.isFinite(this.buffer.maxBytes));
    const before = failsWhenFull ? { entries: [...this.entries], byOrder: new Map(this.byOrder), bytes: this.bufferBytes } : undefined;
    const order = this.orderOf(record.key);
    const existing = this.byOrder.get(order.toString('latin1'));
    const update: BufferedUpdate<V> = { time: existing?.update.time ?? this.bufferTime(record.key, record.timestamp), value: record.value, timestamp: record.timestamp };
    if (existing) this.remove(existing);
    this.insert(record.key, update);
    this.pendingWrites.push([record.key, update]);
    try {
      this.enforceConstraints();
    } catch (error) {
      if (before) ({ entries: this.entries, byOrder: this.byOrder, bytes: this.bufferBytes } = before);
      this.pendingWrites = [];
      throw error;
    }
    for (const [key, value] of this.pendingWrites) {
      if (value === undefined) this.store.delete(key);
      else this.store.put(key, value);
    }
    this.pendingWrites = [];
  }

  private enforceConstraints(): void {
    const expiry = this.observedStreamTime - this.suppressDurationMs;
    while (this.entries.length > 0 && this.entries[0]!.update.time <= expiry) this.emit(this.entries[0]!);
    if (!this.overCapacity()) return;
    if (this.buffer.whenFull === 'shutDownWhenFull') {
      this.context.count('suppress_buffer_full');
      throw new BufferFullError(
        `suppress buffer ${this.storeName} exceeded its capacity: ${this.entries.length}/${this.buffer.maxRecords} records, ${this.bufferBytes}/${this.buffer.maxBytes} bytes`,
      );
    }
    while (this.overCapacity()) {
      this.context.count('suppress_emitted_early');
      this.emit(this.entries[0]!);
    }
  }

  private overCapacity(): boolean {
    return this.entries.length > this.buffer.maxRecords || this.bufferBytes > this.buffer.maxBytes;
  }

  private emit(entry: Entry<K, V>): void {
    this.remove(entry);
    this.pendingWrites.push([entry.key, undefined]);
    if (this.dropTombstones && (entry.update.value === null || entry.update.value === undefined)) return;
    this.context.forward({ key: entry.key, value: entry.update.value, timestamp: entry.update.timestamp, headers: {} });
  }

  private insert(key: K, update: BufferedUpdate<V>): void {
    const entry: Entry<K, V> = { key, order: this.orderOf(key), update, bytes: this.sizeOf(key, update) };
    // Binary search for the first entry after (time, order): entries stay sorted as Kafka Streams' sortedMap.
    let low = 0;
    let high = this.entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const other = this.entries[mid]!;
      const after = other.update.time > update.time || (other.update.time === update.time && Buffer.compare(other.order, entry.order) > 0);
      if (after) high = mid;
      else low = mid + 1;
    }
    this.entries.splice(low, 0, entry);
    this.byOrder.set(entry.order.toString('latin1'), entry);
    this.bufferBytes += entry.bytes;
  }

  private remove(entry: Entry<K, V>): void {
    const index = this.entries.indexOf(entry);
    if (index >= 0) this.entries.splice(index, 1);
    this.byOrder.delete(entry.order.toString('latin1'));
    this.bufferBytes -= entry.bytes;
  }
}

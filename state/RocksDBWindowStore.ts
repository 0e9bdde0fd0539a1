import type { RecordHeaders } from '../log/Log.js';
import type { KeyValue, WindowStore, WindowedKey } from './StateStore.js';
import type { Serde } from './Serde.js';
import type { EngineBatch } from './RocksDBEngine.js';
import { ChangelogBackedStore, type ChangelogBackedStoreOptions } from './ChangelogBackedStore.js';
import { Keyspace, STREAM_TIME_KEY, decodeNumber, encodeNumber, inKeyspace, keyspaceRange } from './StoreKeyspace.js';
import { overlay, type BufferedWrite } from './WriteBuffer.js';
import {
  decodeTimeIndexKey,
  decodeWindowKey,
  encodeTime,
  timeIndexKey,
  windowKey,
  windowStartOf,
} from './WindowKeySchema.js';

export interface RocksDBWindowStoreOptions<K, V> extends ChangelogBackedStoreOptions {
  keySerde: Serde<K>;
  valueSerde: Serde<V>;
  windowSizeMs: number;
  retentionMs: number;
}

/** Changelog header carrying the store's stream time, so a restore into an empty directory
 *  knows which windows had already expired. */
export const STREAM_TIME_HEADER = 'stream_time';

/**
 * A window store: (key, window start) → value; layouts in WindowKeySchema.ts.
 *
 * Retention follows stream time (advanceStreamTime): a window whose start is older than
 * streamTime - retentionMs is expired. Expired windows vanish from reads at once, and puts to
 * them are dropped (counted), but they leave RocksDB only at flush, using the stream time of
 * the drained writes: deleting on disk earlier would remove windows that a replay after a
 * crash (from the last commit, at an older stream time) still has to update.
 * Expiry writes nothing to the changelog: windowed changelogs are compact,delete and age out
 * there; restore skips windows already expired by the stream time the changelog carries.
 */
export class RocksDBWindowStore<K, V> extends ChangelogBackedStore implements WindowStore<K, V> {
  readonly windowSizeMs: number;
  readonly retentionMs: number;
  private readonly keySerde: Serde<K>;
  private readonly valueSerde: Serde<V>;
  private observedStreamTime = -Infinity;
  /** Stream time when the last drain happened: what the next flush may expire by. */
  private drainedStreamTime = -Infinity;
  /** Windows below this start are gone from disk; the next expiry scan starts here. */
  private diskCutoff = -Infinity;
  /**
   * Encoded slots of the (primitive key, window start) pairs used since the last drain: an
   * aggregation fetches and puts the same few windows again and again between commits (every
   * record of a low-cardinality key, and a hopping window's overlapping starts), and encoding a
   * slot (key serde, window key buffer, latin1 id) cost more than the two map lookups that find it.
   * Emptied at each drain, so it holds at most the slots of one commit interval. A store whose
   * windows are mostly used once per interval (a window per user) gains nothing from it and pays
   * a map insert per window: when fewer than a fifth of an interval's lookups hit, the next
   * SLOT_PROBE_EVERY intervals go without it, then it is tried again.
   */
  private slots = new Map<unknown, Slot | Map<number, Slot>>();
  private slotHits = 0;
  private slotMisses = 0;
  /** Intervals left without the slot map; 0 while it is in use. */
  private slotsOffFor = 0;
  /** The slot used last: an aggregation's put follows its fetch of the same window. */
  private lastSlot: Slot | undefined;

  constructor(options: RocksDBWindowStoreOptions<K, V>) {
    super(options);
    if (!(options.windowSizeMs > 0)) throw new RangeError(`store "${options.name}": windowSizeMs must be > 0`);
    if (!(options.retentionMs >= options.windowSizeMs)) {
      throw new RangeError(`store "${options.name}": retentionMs must be >= windowSizeMs`);
    }
    this.windowSizeMs = options.windowSizeMs;
    this.retentionMs = options.retentionMs;
    this.keySerde = options.keySerde;
    this.valueSerde = options.valueSerde;
  }

  get streamTime(): number {
    return this.observedStreamTime;
  }

  advanceStreamTime(streamTime: number): void {
    if (streamTime > this.observedStreamTime) this.observedStreamTime = streamTime;
  }

  /**
   * A null value deletes the window, as in Kafka Streams. The value is serialized now (a value
   * that cannot be serialized fails the record that put it, not the commit) and kept for fetches
   * until the commit: the caller must not mutate it afterwards.
   */
  put(key: K, value: V | null, windowStart: number): void {
    this.assertOpen();
    if (this.isExpired(windowStart)) {
      this.counters.expiredWindowWrites++;
      return;
    }
    const slot = this.slotOf(key, windowStart);
    if (value === null || value === undefined) {
      this.counters.deletes++;
      this.buffer.writeId(slot.id, slot.bytes, null);
    } else {
      this.counters.puts++;
      this.buffer.writeId(slot.id, slot.bytes, this.valueSerde.serialize(value), value);
    }
  }

  fetch(key: K, windowStart: number): V | undefined {
    this.counters.gets++;
    if (this.isExpired(windowStart)) return undefined;
    const slot = this.slotOf(key, windowStart);
    return this.readLatestValue(slot.bytes, slot.id, this.valueSerde);
  }

  /**
   * The changelog key of (key, window start) and its latin1 id, from `slots` when this pair was
   * used since the last drain. Only primitive keys (the DSL's string keys) are remembered: an
   * object key is equal by identity only, and would keep its object alive.
   */
  private slotOf(key: K, windowStart: number): Slot {
    const last = this.lastSlot;
    // The put after a fetch of the same window: no map lookup at all.
    if (last !== undefined && last.windowStart === windowStart && last.key === key) return last;
    const primitive = this.slotsOffFor === 0 && (typeof key !== 'object' || key === null);
    // A key's first window is kept as the slot itself; a Map only once the key has a second one.
    const known = primitive ? this.slots.get(key) : undefined;
    if (known !== undefined) {
      const found = known instanceof Map ? known.get(windowStart) : known.windowStart === windowStart ? known : undefined;
      if (found !== undefined) {
        this.slotHits++;
        return (this.lastSlot = found);
      }
    }
    const bytes = windowKey(this.keySerde.serialize(key), windowStart);
    const slot: Slot = { key, windowStart, bytes, id: bytes.toString('latin1') };
    if (primitive) {
      this.slotMisses++;
      if (known === undefined) this.slots.set(key, slot);
      else if (known instanceof Map) known.set(windowStart, slot);
      else this.slots.set(key, new Map([[known.windowStart, known], [windowStart, slot]]));
    }
    return (this.lastSlot = slot);
  }


  fetchRange(key: K, timeFrom: number, timeTo: number): KeyValue<WindowedKey<K>, V>[] {
    this.counters.gets++;
    const from = Math.max(timeFrom, this.liveFrom());
    if (from > timeTo) return [];
    const keyBytes = this.keySerde.serialize(key);
    const lo = windowKey(keyBytes, from);
    const hi = windowKey(keyBytes, timeTo);
    // Keys between lo and hi share lo's [length][key] prefix: the length prefix pins the size.
    const buffered = this.buffer.sortedRange(lo, hi);
    const stored = this.scanData(inKeyspace(Keyspace.Data, lo), inKeyspace(Keyspace.Data, hi));
    const out: KeyValue<WindowedKey<K>, V>[] = [];
    for (const [bytes, value] of overlay(stored, buffered)) {
      out.push({ key: { key, windowStart: windowStartOf(bytes) }, value: this.valueSerde.deserialize(value) });
    }
    return out;
  }

  /** Ordered by window start, then by serialized key. */
  fetchAll(timeFrom: number, timeTo: number): KeyValue<WindowedKey<K>, V>[] {
    this.counters.gets++;
    const from = Math.max(timeFrom, this.liveFrom());
    if (from > timeTo) return [];
    const lower = inKeyspace(Keyspace.TimeIndex, encodeTime(from));
    const upper =
      timeTo < Number.MAX_SAFE_INTEGER
        ? { lt: inKeyspace(Keyspace.TimeIndex, encodeTime(timeTo + 1)) }
        : { lt: keyspaceRange(Keyspace.TimeIndex).lt };
    const found = new Map<string, { key: Buffer; windowStart: number; value: Buffer }>();
    const dataKeys: Buffer[] = [];
    for (const [indexKey] of this.engine.scan({ gte: lower, ...upper })) {
      const { key, windowStart } = decodeTimeIndexKey(indexKey.subarray(1));
      dataKeys.push(inKeyspace(Keyspace.Data, windowKey(key, windowStart)));
    }
    const values = dataKeys.length > 0 ? this.engine.getMany(dataKeys) : [];
    dataKeys.forEach((dataKey, i) => {
      const value = values[i];
      if (value === undefined) return;
      const decoded = decodeWindowKey(dataKey.subarray(1));
      found.set(dataKey.toString('latin1', 1), { ...decoded, value });
    });
    const inRange = (k: Buffer) => {
      const windowStart = windowStartOf(k);
      return windowStart >= from && windowStart <= timeTo;
    };
    for (const write of this.buffer.sorted(inRange)) {
      const decoded = decodeWindowKey(write.key);
      const id = write.key.toString('latin1');
      if (write.value === null) found.delete(id);
      else found.set(id, { ...decoded, value: write.value });
    }
    return [...found.values()]
      .sort((a, b) => a.windowStart - b.windowStart || Buffer.compare(a.key, b.key))
      .map((entry) => ({
        key: { key: this.keySerde.deserialize(entry.key), windowStart: entry.windowStart },
        value: this.valueSerde.deserialize(entry.value),
      }));
  }

  protected override onOpen(): void {
    const stored = decodeNumber(this.engine.get(STREAM_TIME_KEY));
    this.observedStreamTime = stored ?? -Infinity;
    this.drainedStreamTime = this.observedStreamTime;
    this.diskCutoff = this.observedStreamTime - this.retentionMs;
    this.slots = new Map();
    this.lastSlot = undefined;
  }

  protected override onDrain(): void {
    this.drainedStreamTime = this.observedStreamTime;
    if (this.slotsOffFor > 0) this.slotsOffFor--;
    else if (this.slotHits * 4 < this.slotMisses) this.slotsOffFor = SLOT_PROBE_EVERY;
    this.slotHits = this.slotMisses = 0;
    this.slots = new Map();
    this.lastSlot = undefined;
  }

  protected override changelogHeaders(): RecordHeaders {
    return Number.isFinite(this.drainedStreamTime) ? { [STREAM_TIME_HEADER]: String(this.drainedStreamTime) } : {};
  }

  protected persistWrites(batch: EngineBatch, writes: BufferedWrite[]): void {
    const cutoff = this.drainedStreamTime - this.retentionMs;
    for (const write of writes) {
      const windowStart = windowStartOf(write.key);
      // Expired before reaching disk: the expiry in beforeCheckpoint removes any older copy.
      if (windowStart < cutoff) continue;
      this.writeWindow(batch, write.key, windowStart, write.value);
    }
  }

  protected override beforeCheckpoint(batch: EngineBatch, afterRestore: boolean): void {
    if (afterRestore) this.drainedStreamTime = this.observedStreamTime;
    const streamTime = this.drainedStreamTime;
    if (!Number.isFinite(streamTime)) return;
    const cutoff = streamTime - this.retentionMs;
    if (cutoff > this.diskCutoff) {
      const gte = Number.isFinite(this.diskCutoff)
        ? inKeyspace(Keyspace.TimeIndex, encodeTime(this.diskCutoff))
        : keyspaceRange(Keyspace.TimeIndex).gte;
      for (const [indexKey] of this.engine.scan({ gte, lt: inKeyspace(Keyspace.TimeIndex, encodeTime(cutoff)) })) {
        const { key, windowStart } = decodeTimeIndexKey(indexKey.subarray(1));
        batch.delete(indexKey);
        batch.delete(inKeyspace(Keyspace.Data, windowKey(key, windowStart)));
      }
      this.diskCutoff = cutoff;
    }
    batch.put(STREAM_TIME_KEY, encodeNumber(streamTime));
  }

  protected restoreRecord(batch: EngineBatch, key: Buffer, value: Buffer | null, headers: RecordHeaders): void {
    const headerTime = headers[STREAM_TIME_HEADER];
    if (headerTime !== undefined) this.advanceStreamTime(Number(headerTime));
    const windowStart = windowStartOf(key);
    // A window start never exceeds the stream time that created it: a safe lower bound.
    this.advanceStreamTime(windowStart);
    if (this.isExpired(windowStart)) return;
    this.writeWindow(batch, key, windowStart, value);
  }

  private writeWindow(batch: EngineBatch, key: Buffer, windowStart: number, value: Buffer | null): void {
    const dataKey = inKeyspace(Keyspace.Data, key);
    const indexKey = inKeyspace(Keyspace.TimeIndex, timeIndexKey(decodeWindowKey(key).key, windowStart));
    if (value === null) {
      batch.delete(dataKey);
      batch.delete(indexKey);
    } else {
      batch.put(dataKey, value);
      batch.put(indexKey, EMPTY);
    }
  }

  private isExpired(windowStart: number): boolean {
    return windowStart < this.liveFrom();
  }

  /** The oldest window start still live at the observed stream time. */
  private liveFrom(): number {
    return this.observedStreamTime - this.retentionMs;
  }

  private *scanData(gte: Buffer, lte: Buffer): Generator<[Buffer, Buffer]> {
    for (const [key, value] of this.engine.scan({ gte, lte })) yield [key.subarray(1), value];
  }
}

const EMPTY = Buffer.alloc(0);

/** Commit intervals a store goes without its slot map after one where it hardly hit. */
const SLOT_PROBE_EVERY = 16;

/** A window's changelog key and its latin1 id (the write buffer's and read cache's key). */
interface Slot {
  key: unknown;
  windowStart: number;
  bytes: Buffer;
  id: string;
}

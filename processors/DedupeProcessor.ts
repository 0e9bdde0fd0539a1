import { stringSerde, jsonSerde } from '../state/Serde.js';
import type { IndexedKeyValueStore } from '../state/StateStore.js';
import { keyValueStore } from '../state/Stores.js';
import type { FixedKeyProcessor, FixedKeyProcessorContext, FixedKeyRecord, KStream, StreamRecord } from '../topology/index.js';
import type { LearningEvent } from './LandingEvent.js';
import { DEFAULT_DEDUPE_TTLS } from './SeedDefaults.js';

export interface DedupeOptions<V> {
  /** Store name (changelog `<app-id>-<storeName>-changelog`). */
  storeName: string;
  /** TTL per event type in ms; types not listed use defaultTtlMs. */
  ttlMs?: Readonly<Record<string, number>>;
  defaultTtlMs?: number;
  /** How often (in stream time) expired ids are purged. */
  purgeIntervalMs?: number;
  /** Event type and id of a value; return undefined to pass a record without dedupe. */
  idOf: (value: V) => { type: string; id: string } | undefined;
  /** The time a TTL counts from; defaults to the record timestamp. */
  timeOf?: (value: V, record: StreamRecord<unknown, V>) => number;
}

const SEEN = 's:';
const EXPIRY = 'x:';
/** Expiry times are zero-padded so byte order is time order and a range scan finds all expired. */
const pad = (ms: number) => String(Math.max(0, Math.floor(ms))).padStart(15, '0');

/**
 * Drops records whose (event type, id) was already seen within that type's TTL (seed 002:
 * attempts by client_attempt_id 24 h, sessions by session_id 12 h, placements by placement_id
 * 7 d), counting them as `duplicate`.
 *
 * One RocksDB key-value store, two key families:
 *   s:<type>:<id>                 → expiry (ms), changelogged
 *   x:<expiry, 15 digits>:<type>:<id> → 1, the expiry index: local only (IndexedKeyValueStore),
 *                                   rebuilt from the s: records when the store is restored
 * A stream-time punctuation range-scans x: up to the current stream time and deletes both keys,
 * so the store holds only ids still inside their TTL and a purge touches only what expired.
 * The index is not changelogged because it follows from the s: entries: one changelog record
 * per unique event instead of two. (Changelogs written before still hold x: records; a restore
 * applies them as entries of the index, which is what they are.)
 *
 * Why stream time, not wall-clock: the decision "duplicate or not" compares the stored expiry
 * with the record's own time, and the purge runs on the same clock, so a replay after a crash
 * makes exactly the same decisions (exactly-once results). Wall-clock purging would make a
 * replay's answer depend on when it ran. The cost: an idle partition purges only when records
 * arrive again — it also stops growing while idle.
 *
 * @example
 *   const unique = dedupe(events, {
 *     storeName: 'dedupe-ids',
 *     idOf: (event) => ({ type: event.event_type, id: event.event_id }),
 *     timeOf: (event) => event.received_at,
 *   });
 */
export class DedupeProcessor<K, V> implements FixedKeyProcessor<K, V, V> {
  private context!: FixedKeyProcessorContext<K, V>;
  private store!: IndexedKeyValueStore<string, number>;
  private readonly ttls: Readonly<Record<string, number>>;
  private readonly defaultTtlMs: number;
  /** Expiries up to here are purged; 0 after a (re)start, so the first purge scans everything. */
  private purgedUpTo = 0;

  constructor(private readonly options: DedupeOptions<V>) {
    this.ttls = options.ttlMs ?? DEFAULT_DEDUPE_TTLS;
    this.defaultTtlMs = options.defaultTtlMs ?? 24 * 3_600_000;
  }

  init(context: FixedKeyProcessorContext<K, V>): void {
    this.context = context;
    this.store = context.getStateStore(this.options.storeName);
    context.schedule(this.options.purgeIntervalMs ?? 60_000, 'stream-time', (streamTime) => this.purge(streamTime));
  }

  process(record: FixedKeyRecord<K, V>): void {
    const identity = this.options.idOf(record.value);
    if (identity === undefined) {
      this.context.count('no_id');
      this.context.forward(record);
      return;
    }
    const now = this.options.timeOf ? this.options.timeOf(record.value, record) : record.timestamp;
    const seenKey = `${SEEN}${identity.type}:${identity.id}`;
    const expiry = this.store.get(seenKey);
    if (expiry !== undefined && expiry > now) {
      this.context.count('duplicate');
      return;
    }
    if (expiry !== undefined) this.store.deleteUnlogged(`${EXPIRY}${pad(expiry)}:${identity.type}:${identity.id}`);
    const newExpiry = now + (this.ttls[identity.type] ?? this.defaultTtlMs);
    if (newExpiry <= this.purgedUpTo) {
      // Older than its TTL behind stream time: its index entry would sit below the purge scan.
      if (expiry !== undefined) this.store.delete(seenKey);
      this.context.count('expired_on_arrival');
      this.context.forward(record);
      return;
    }
    this.store.put(seenKey, newExpiry);
    this.store.putUnlogged(`${EXPIRY}${pad(newExpiry)}:${identity.type}:${identity.id}`, 1);
    this.context.count('unique');
    this.context.forward(record);
  }

  /**
   * Deletes every id whose expiry is at or before streamTime. The scan starts where the last one
   * ended: below that lie only the tombstones of what was purged, which RocksDB iterators would
   * otherwise walk again on every purge until compaction drops them.
   */
  private purge(streamTime: number): void {
    const expired = this.store.range(`${EXPIRY}${pad(this.purgedUpTo)}`, `${EXPIRY}${pad(streamTime)}:\uffff`);
    this.purgedUpTo = Math.max(this.purgedUpTo, streamTime);
    for (const { key } of expired) {
      const rest = key.slice(EXPIRY.length + 16);
      const expiry = Number(key.slice(EXPIRY.length, EXPIRY.length + 15));
      if (expiry > streamTime) continue;
      this.store.deleteUnlogged(key);
      // Only when the id was not seen again since (a newer expiry replaced it; or, after a
      // restore, the entry is a stale index of an id deleted or renewed meanwhile).
      if (this.store.get(`${SEEN}${rest}`) === expiry) this.store.delete(`${SEEN}${rest}`);
    }
    if (expired.length > 0) this.context.count('expired', expired.length);
  }
}

/**
 * Adds dedupe (and its store) to a stream; the key is unchanged.
 *
 * @example
 *   const unique = dedupe(events, { storeName: 'dedupe-ids', idOf: (e) => ({ type: e.event_type, id: e.event_id }) });
 */
export function dedupe<K, V>(stream: KStream<K, V>, options: DedupeOptions<V> & { name?: string }): KStream<K, V> {
  const name = options.name ?? 'dedupe';
  // Most ids are new: the key filter answers those reads without RocksDB (the x: index is never read by key).
  stream.builder.addStateStore(keyValueStore(options.storeName, stringSerde, jsonSerde<number>(), { indexOnRestore: expiryIndexOf, keyFilter: { prefix: SEEN } }));
  return stream.processValues<V>(() => new DedupeProcessor<K, V>(options), { name, stores: [options.storeName] });
}

/** The expiry index entry of a restored s: entry (DedupeProcessor's layout). */
function expiryIndexOf(key: string, value: number): { key: string; value: number } | undefined {
  return key.startsWith(SEEN) ? { key: `${EXPIRY}${pad(value)}:${key.slice(SEEN.length)}`, value: 1 } : undefined;
}

/**
 * The dedupe identity of a LearningEvent: its type and client id. Ids the ingress assigned (the
 * client sent none) are unique by construction and a client retry would get a new one, so such
 * events pass without taking space in the store (counted `no_id`).
 */
export function learningEventIdentity(event: LearningEvent): { type: string; id: string } | undefined {
  if (event.id_assigned) return undefined;
  // Scoped by user, as the ingress's idempotency is: one client's ids must not suppress another
  // user's events (issue 12). The length prefix keeps "a:b"+"c" apart from "a"+"b:c".
  return { type: event.event_type, id: `${event.user_id.length}:${event.user_id}:${event.event_id}` };
}

import type { SessionStore } from '../../state/RocksDBSessionStore.js';
import type { KeyValueStore } from '../../state/StateStore.js';
import type { Processor, ProcessorContext } from '../processor/Processor.js';
import type { StreamRecord } from '../processor/Record.js';
import type { Aggregator, EmitStrategy, Initializer } from './DslProcessors.js';
import { orderBytes, sessionEndStartBytes } from './SuppressProcessor.js';
import type { SessionWindows } from './SessionWindows.js';
import type { Windowed } from './TimeWindows.js';

/** Per store instance (one per task), the largest session end written to it. */
const storeStreamTimes = new WeakMap<object, number>();
/** Per store instance, the segment start below which its sessions were last removed (since this process opened it). */
const storePurgedBelow = new WeakMap<object, number>();

/** Kafka Streams' session store segment interval (RocksDbSessionBytesStoreSupplier.segmentIntervalMs). */
export function sessionSegmentIntervalMs(retentionMs: number): number {
  return Math.max(Math.floor(retentionMs / 2), 60_000);
}

const LAST_EMIT_CLOSE_TIME_KEY = 'last-emit-window-close-time';
/** ConsumerRecord.NO_TIMESTAMP: nothing emitted yet. */
const NO_EMIT = -1;

/** TimeFirstSessionKeySchema's bytes: the session end, the session start, the key's bytes (string keys: UTF-8). */
function timeFirstOrder<K>(session: Windowed<K>): Buffer {
  return Buffer.concat([sessionEndStartBytes(session), orderBytes(session.key)]);
}

/** Combines two sessions' aggregates when a record bridges them (Kafka Streams' Merger). */
export type Merger<K, A> = (key: K, aggregate1: A, aggregate2: A) => A;

/**
 * Kafka Streams' KStreamSessionWindowAggregate. A record at t finds the key's sessions that end
 * at or after t - gap and start at or before t + gap, merges their aggregates into one session
 * spanning them all and t, deletes the merged ones (forwarding a tombstone for each) and forwards
 * the new session. Every update and tombstone carries its session's end as timestamp.
 * Stream time is the records reaching this node (observedStreamTime), kept in memory as Kafka
 * Streams does; sessions the store has expired (ended at or before its stream time - retention)
 * are not merged into, and are removed from it a segment at a time as Kafka Streams drops its
 * segments (purgeExpiredSegments). A record whose merged session ended before stream time - grace - gap is late:
 * counted and dropped. Records with a null key are dropped; a null value is aggregated, as
 * Kafka Streams does.
 *
 * onWindowClose (KStreamSessionWindowAggregate with EmitStrategy.onWindowClose) forwards no update
 * or tombstone; after each record with a key, late or not, the sessions that ended in
 * [last emit close time, close time - 1] (a session's end is inclusive) are forwarded once, with
 * their end as timestamp, ordered by end, start, then key bytes, as Kafka Streams' time-ordered
 * session store (TimeFirstSessionKeySchema) returns them. Finding them is a scan of the store
 * (ours is keyed by key first), bounded by retention as expired segments are dropped. The last
 * emit's close time is kept in a changelogged store (Kafka Streams: processor metadata committed
 * with the offsets), so a restart neither repeats nor skips a session; no wall-clock throttle.
 */
export class SessionWindowAggregateProcessor<K, V, A> implements Processor<K, V, Windowed<K>, A | null> {
  private context!: ProcessorContext<Windowed<K>, A | null>;
  private store!: SessionStore<K, A>;
  private observedStreamTime = -1;
  /**
   * The largest session end written to the store (Kafka Streams' segmented store's own stream
   * time): sessions ending at or before it - retention are expired there and no longer found,
   * so a record does not merge into them. Recovered from the store on the first record; shared
   * by the aggregations writing one store (a windowed cogroup), as the store's own time is.
   */
  private get storeStreamTime(): number | undefined {
    return storeStreamTimes.get(this.store);
  }

  private set storeStreamTime(time: number | undefined) {
    if (time !== undefined) storeStreamTimes.set(this.store, time);
  }

  constructor(
    private readonly storeName: string,
    private readonly windows: SessionWindows,
    private readonly initializer: Initializer<A>,
    private readonly aggregator: Aggregator<K, V, A>,
    private readonly merger: Merger<K, A>,
    private readonly retentionMs: number,
    private readonly emitStrategy: EmitStrategy = 'onUpdate',
    private readonly emittedStoreName?: string,
  ) {}

  private emitted: KeyValueStore<string, number> | undefined;

  init(context: ProcessorContext<Windowed<K>, A | null>): void {
    this.context = context;
    this.store = context.getStateStore(this.storeName);
    if (this.emitStrategy === 'onWindowClose') this.emitted = context.getStateStore<KeyValueStore<string, number>>(this.emittedStoreName!);
  }

  process(record: StreamRecord<K, V>): void {
    if (record.key === null || record.key === undefined) return this.context.count('null_key_dropped');
    this.aggregateRecord(record);
    if (this.emitStrategy === 'onWindowClose') this.emitClosedSessions(this.closeTime());
  }

  /** Sessions that ended before this are closed: no record can still reach them. */
  private closeTime(): number {
    return this.observedStreamTime - this.windows.graceMs - this.windows.inactivityGapMs;
  }

  private aggregateRecord(record: StreamRecord<K, V>): void {
    const key = record.key as K;
    const { inactivityGapMs } = this.windows;
    const timestamp = record.timestamp;
    this.observedStreamTime = Math.max(this.observedStreamTime, timestamp);
    const closeTime = this.closeTime();
    this.storeStreamTime ??= this.store.all().reduce((max, session) => Math.max(max, session.key.windowEnd), -1);
    const earliestLiveEnd = this.storeStreamTime - this.retentionMs + 1;
    const merged = this.store.findSessions(key, Math.max(timestamp - inactivityGapMs, earliestLiveEnd), timestamp + inactivityGapMs);
    let start = timestamp;
    let end = timestamp;
    let aggregate = this.initializer();
    for (const session of merged) {
      aggregate = this.merger(key, aggregate, session.value);
      start = Math.min(start, session.key.windowStart);
      end = Math.max(end, session.key.windowEnd);
    }
    if (end < closeTime) return this.context.count('late');
    if (start !== timestamp || end !== timestamp) {
      for (const session of merged) {
        this.store.remove(session.key);
        if (this.emitStrategy === 'onUpdate') this.context.forward({ key: session.key, value: null, timestamp: session.key.windowEnd, headers: record.headers });
      }
    }
    aggregate = this.aggregator(key, record.value, aggregate);
    const sessionKey: Windowed<K> = { key, windowStart: start, windowEnd: end };
    this.store.put(sessionKey, aggregate);
    this.storeStreamTime = Math.max(this.storeStreamTime, end);
    this.purgeExpiredSegments(this.storeStreamTime);
    if (this.emitStrategy === 'onUpdate') this.context.forward({ key: sessionKey, value: aggregate, timestamp: end, headers: record.headers });
  }

  /** KStreamSessionWindowAggregate.maybeForwardFinalResult, not throttled by wall-clock time. */
  private emitClosedSessions(closeTime: number): void {
    const lastEmitCloseTime = this.emitted!.get(LAST_EMIT_CLOSE_TIME_KEY) ?? NO_EMIT;
    if (lastEmitCloseTime !== NO_EMIT && lastEmitCloseTime >= closeTime) return;
    const upper = closeTime - 1;
    if (upper < 0) return;
    const lower = Math.max(0, lastEmitCloseTime);
    const closed = this.store
      .all()
      .filter(({ key }) => key.windowEnd >= lower && key.windowEnd <= upper)
      .map((session) => ({ session, order: timeFirstOrder(session.key) }))
      .sort((a, b) => Buffer.compare(a.order, b.order));
    // No headers: Kafka Streams passes on those of the record that happened to close the session.
    for (const { session } of closed) this.context.forward({ key: session.key, value: session.value, timestamp: session.key.windowEnd, headers: {} });
    this.emitted!.put(LAST_EMIT_CLOSE_TIME_KEY, closeTime);
  }

  /**
   * Kafka Streams' segmented session store drops every segment (sessions by end time, one per
   * segment interval) that lies wholly before stream time - retention (AbstractSegments
   * .cleanupExpiredSegments). Our store is one key-value store, so the same sessions are deleted
   * (tombstones in its changelog, so a restore agrees): a scan each time stream time moves into
   * a new segment, and once after each start. A session expired but in a live segment stays, as there.
   */
  private purgeExpiredSegments(streamTime: number): void {
    const interval = sessionSegmentIntervalMs(this.retentionMs);
    const minLiveSegmentStart = Math.floor((streamTime - this.retentionMs) / interval) * interval;
    const purgedBelow = storePurgedBelow.get(this.store);
    if (purgedBelow !== undefined && minLiveSegmentStart <= purgedBelow) return;
    storePurgedBelow.set(this.store, minLiveSegmentStart);
    if (minLiveSegmentStart <= 0) return;
    for (const session of this.store.all()) if (session.key.windowEnd < minLiveSegmentStart) this.store.remove(session.key);
  }
}

import type { SessionStore } from '../../state/RocksDBSessionStore.js';
import type { Processor, ProcessorContext } from '../processor/Processor.js';
import type { StreamRecord } from '../processor/Record.js';
import type { Aggregator, Initializer } from './DslProcessors.js';
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
  ) {}

  init(context: ProcessorContext<Windowed<K>, A | null>): void {
    this.context = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: StreamRecord<K, V>): void {
    if (record.key === null || record.key === undefined) return this.context.count('null_key_dropped');
    const { inactivityGapMs, graceMs } = this.windows;
    const timestamp = record.timestamp;
    this.observedStreamTime = Math.max(this.observedStreamTime, timestamp);
    const closeTime = this.observedStreamTime - graceMs - inactivityGapMs;
    this.storeStreamTime ??= this.store.all().reduce((max, session) => Math.max(max, session.key.windowEnd), -1);
    const earliestLiveEnd = this.storeStreamTime - this.retentionMs + 1;
    const merged = this.store.findSessions(record.key, Math.max(timestamp - inactivityGapMs, earliestLiveEnd), timestamp + inactivityGapMs);
    let start = timestamp;
    let end = timestamp;
    let aggregate = this.initializer();
    for (const session of merged) {
      aggregate = this.merger(record.key, aggregate, session.value);
      start = Math.min(start, session.key.windowStart);
      end = Math.max(end, session.key.windowEnd);
    }
    if (end < closeTime) return this.context.count('late');
    if (start !== timestamp || end !== timestamp) {
      for (const session of merged) {
        this.store.remove(session.key);
        this.context.forward({ key: session.key, value: null, timestamp: session.key.windowEnd, headers: record.headers });
      }
    }
    aggregate = this.aggregator(record.key, record.value, aggregate);
    const sessionKey: Windowed<K> = { key: record.key, windowStart: start, windowEnd: end };
    this.store.put(sessionKey, aggregate);
    this.storeStreamTime = Math.max(this.storeStreamTime, end);
    this.purgeExpiredSegments(this.storeStreamTime);
    this.context.forward({ key: sessionKey, value: aggregate, timestamp: end, headers: record.headers });
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

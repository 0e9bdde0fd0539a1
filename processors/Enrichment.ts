import type { KeyValueStore } from '../state/StateStore.js';
import { fixedKeyRecord, type FixedKeyProcessor, type FixedKeyProcessorContext, type FixedKeyRecord, type GlobalKTable, type KStream, type KTable, type StreamsBuilder } from '../topology/index.js';
import type { DerivedEnrichment, LearningEvent } from './LandingEvent.js';
import { toEpochMs } from './LandingEvent.js';
import { emptyDerivedEnrichment, lookupOrEmpty, LOOKUP_FAILED } from './EnrichmentFallback.js';
import type { FailureTracker, ProcessingFailures } from './ProcessingFailures.js';
import { DEFAULT_REFERENCE_TOPICS, type ItemProfile, type ReferenceTopics, type UserProfile } from './ReferenceData.js';

export const USERS_STORE = 'ref-users';
export const ITEMS_STORE = 'ref-items';

const NEW_USER_MS = 7 * 86_400_000;

/**
 * Joins events with reference data and derives seed 002's enrichments:
 * - the user (stream–table join: the users KTable is co-partitioned with the landing topic by
 *   user id, so the lookup is local to the task);
 * - the item of attempts (stream–global-table join: every instance holds all items);
 * - response time category, difficulty match, time of day in the user's timezone, performance
 *   against the expected (item average accuracy for attempts, user average accuracy for sessions).
 *
 * A miss never blocks: the event passes with `user: null` / `item: null` and the processor
 * counts user_miss / item_miss (hits: user_hit / item_hit), visible at GET /processor/enrichment.
 * Both lookups are in one processor so an event is counted once per table it needs, and
 * sessions (no item) never count as item misses.
 *
 * @example
 *   const { users, items } = referenceTables(builder);
 *   const enriched = enrich(events, users, items);
 */
export class EnrichProcessor<K> implements FixedKeyProcessor<K, LearningEvent, LearningEvent> {
  private context!: FixedKeyProcessorContext<K, LearningEvent>;
  private users!: KeyValueStore<string, UserProfile>;
  private items!: KeyValueStore<string, ItemProfile>;

  constructor(
    private readonly usersStore: string,
    private readonly itemsStore: string,
    /** Seed 002: a lookup that throws continues with empty enrichment, counted here (EnrichmentFallback.ts). */
    private readonly failures?: ProcessingFailures,
  ) {}

  private userFailures: FailureTracker | undefined;
  private itemFailures: FailureTracker | undefined;

  init(context: FixedKeyProcessorContext<K, LearningEvent>): void {
    this.context = context;
    this.users = context.getStateStore(this.usersStore);
    this.items = context.getStateStore(this.itemsStore);
    this.userFailures = this.failures?.tracker('enrichment', 'users');
    this.itemFailures = this.failures?.tracker('enrichment', 'items');
  }

  process(record: FixedKeyRecord<K, LearningEvent>): void {
    const event = record.value;
    // Kafka Streams' stream-table joins skip a record with a null value (nothing to enrich).
    if (event === null || event === undefined) return this.context.count('null_value_dropped');
    const user = lookupOrEmpty(this.users, event.user_id, this.userFailures, this.context.partition) ?? null;
    this.context.count(user ? 'user_hit' : 'user_miss');
    let item: ItemProfile | null = null;
    const itemId = event.kind === 'attempt' ? event.payload.item_id : undefined;
    if (typeof itemId === 'string') {
      const found = lookupOrEmpty(this.items, itemId, this.itemFailures, this.context.partition);
      item = found ?? null;
      if (found !== LOOKUP_FAILED) this.context.count(item ? 'item_hit' : 'item_miss');
    }
    let derived: DerivedEnrichment;
    try {
      derived = deriveEnrichment(event, user, item);
    } catch (error) {
      if (!this.userFailures) throw error;
      this.userFailures.failed(error, this.context.partition);
      derived = emptyDerivedEnrichment(event);
    }
    const enriched: LearningEvent = { ...event, enrichment: { user, item, derived } };
    this.context.forward(fixedKeyRecord(record, enriched));
  }
}

/** The users KTable (co-partitioned with the landing topic) and the items GlobalKTable. */
export function referenceTables(builder: StreamsBuilder, topics: ReferenceTopics = DEFAULT_REFERENCE_TOPICS) {
  // Events' users and items are often not in the reference tables (the seeds' lookups miss):
  // Bloom filters answer those lookups without a RocksDB read.
  const users: KTable<string, UserProfile> = builder.table<string, UserProfile>(topics.users, { storeName: USERS_STORE, name: 'ref-users-source', keyFilter: true });
  const items: GlobalKTable<string, ItemProfile> = builder.globalTable<string, ItemProfile>(topics.items, { storeName: ITEMS_STORE, keyFilter: true });
  return { users, items };
}

/** Adds the enrichment node; the stream must be keyed by user id, like the users table. */
export function enrich<K>(stream: KStream<K, LearningEvent>, users: KTable<string, UserProfile>, items: GlobalKTable<string, ItemProfile>, name = 'enrich', failures?: ProcessingFailures): KStream<K, LearningEvent> {
  return stream.processValues<LearningEvent>(() => new EnrichProcessor<K>(users.storeName, items.storeName, failures), { name, stores: [users.storeName] });
}

export function responseTimeCategory(ms: number): NonNullable<DerivedEnrichment['response_time_category']> {
  if (ms < 1000) return 'rapid';
  if (ms < 5000) return 'fast';
  if (ms < 15_000) return 'normal';
  if (ms < 60_000) return 'slow';
  return 'very_slow';
}

/**
 * Epoch ms of created_at texts already parsed. Date.parse of an ISO text costs ~0.5 µs, once per
 * event; the users table hands out the same few thousand texts (profiles come from its read
 * cache), so a lookup answers nearly all. Emptied when full, so it stays bounded.
 */
const createdAtMs = new Map<string, number>();
const MAX_CREATED_AT_TEXTS = 10_000;

function userCreatedMs(createdAt: unknown): number | undefined {
  if (typeof createdAt !== 'string') return toEpochMs(createdAt);
  const cached = createdAtMs.get(createdAt);
  if (cached !== undefined) return cached;
  const ms = toEpochMs(createdAt);
  if (ms === undefined) return undefined;
  if (createdAtMs.size >= MAX_CREATED_AT_TEXTS) createdAtMs.clear();
  createdAtMs.set(createdAt, ms);
  return ms;
}

const hourFormats = new Map<string, { format: Intl.DateTimeFormat | null; bucket: number; hour: number }>();
/** Every UTC offset is a multiple of 15 minutes, so the local hour is constant within a 15-minute UTC bucket. */
const BUCKET_MS = 15 * 60_000;

/**
 * Hour 0–23 of t in timezone. Formatters are cached per zone (building one costs far more than
 * using it), and so is the last answer per zone for its 15-minute bucket: events arrive in
 * roughly time order, so most lookups cost a division.
 */
export function localHour(t: number, timezone: string): { hour: number; timezone: string } {
  let cached = hourFormats.get(timezone);
  if (cached === undefined) {
    let format: Intl.DateTimeFormat | null;
    try {
      format = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour: 'numeric', hourCycle: 'h23' });
    } catch {
      format = null; // not an IANA zone: UTC below
    }
    cached = { format, bucket: Number.NaN, hour: 0 };
    if (hourFormats.size < 1000) hourFormats.set(timezone, cached);
  }
  if (cached.format === null) return { hour: new Date(t).getUTCHours(), timezone: 'UTC' };
  const bucket = Math.floor(t / BUCKET_MS);
  if (bucket !== cached.bucket) {
    cached.hour = Number(cached.format.format(t)) % 24;
    cached.bucket = bucket;
  }
  return { hour: cached.hour, timezone };
}

export function timeOfDay(hour: number): DerivedEnrichment['time_of_day'] {
  if (hour < 6) return 'night';
  if (hour < 12) return 'morning';
  if (hour < 18) return 'afternoon';
  return 'evening';
}

function performanceCategory(delta: number): NonNullable<DerivedEnrichment['performance_category']> {
  if (delta > 0.1) return 'above';
  if (delta < -0.1) return 'below';
  return 'as_expected';
}

const round = (n: number) => Math.round(n * 10_000) / 10_000;

export function deriveEnrichment(event: LearningEvent, user: UserProfile | null, item: ItemProfile | null): DerivedEnrichment {
  const { hour, timezone } = localHour(event.event_time, user?.timezone ?? 'UTC');
  const derived: DerivedEnrichment = { local_hour: hour, time_of_day: timeOfDay(hour), timezone };
  const p = event.payload;
  if (event.kind === 'attempt') {
    if (typeof p.time_taken_ms === 'number') derived.response_time_category = responseTimeCategory(p.time_taken_ms);
    if (typeof item?.difficulty === 'number' && typeof user?.skill_level === 'number') {
      const gap = item.difficulty - user.skill_level;
      derived.difficulty_match = Math.abs(gap) <= 0.15 ? 'matched' : gap > 0 ? 'too_hard' : 'too_easy';
    }
    if (typeof p.correct === 'boolean' && typeof item?.average_accuracy === 'number') {
      derived.performance_vs_expected = round((p.correct ? 1 : 0) - item.average_accuracy);
      derived.performance_category = performanceCategory(derived.performance_vs_expected);
    }
  } else if (event.kind === 'session') {
    if (typeof p.items_attempted === 'number' && p.items_attempted > 0 && typeof p.correct_count === 'number') {
      derived.session_accuracy = round(p.correct_count / p.items_attempted);
      if (typeof user?.average_accuracy === 'number') {
        derived.performance_vs_expected = round(derived.session_accuracy - user.average_accuracy);
        derived.performance_category = performanceCategory(derived.performance_vs_expected);
      }
    }
  }
  if (user) {
    const created = userCreatedMs(user.created_at);
    derived.is_new_user = (created !== undefined && event.event_time - created < NEW_USER_MS) || user.total_sessions === 0;
  }
  return derived;
}

import type { WindowStore } from '../state/StateStore.js';
import { TimeWindows, type EmitStrategy, type KStream, type StreamsApp, type Windowed } from '../topology/index.js';
import { DEFAULT_AGGREGATORS, type AggregatorSpec } from './AggregationSpecs.js';
import { markDistinct, type Marked } from './DistinctMarker.js';
import { bufferAggregateRows, type PendingWindow } from './AggregateRowBuffer.js';
import type { LearningEvent } from './LandingEvent.js';
import { preAggregates } from './PartialAggregate.js';
import { preAggregate } from './PreAggregator.js';
import { mergePartials } from './PartialMerger.js';
import { NamedError } from '../errors/NamedError.js';

/** A row of the aggregate topic and of queryAggregation: what the ClickHouse window_aggregates table stores. */
export interface AggregateRow extends Record<string, unknown> {
  aggregator: string;
  key: string;
  window_start: number;
  window_end: number;
  count: number;
}

/**
 * onUpdate: a row per event and window; buffered: the latest row per window at most once per
 * emitIntervalMs (default: far fewer rows, still fresh); onWindowClose: one final row per window.
 */
export type AggregateEmit = EmitStrategy | 'buffered';

export interface AggregationOptions {
  /** Where rows go (record key `<aggregator>|<key>|<window_start>`, so a compacted topic keeps the latest). */
  topic: string;
  /** Default for every aggregator; see AggregateEmit. */
  emit?: AggregateEmit;
  /** buffered only: how often pending rows are emitted (wall-clock). */
  emitIntervalMs?: number;
  graceMs?: number;
  /** Per aggregator name: emit mode, grace and query retention overrides. */
  overrides?: Record<string, { emit?: AggregateEmit; graceMs?: number; retentionMs?: number }>;
  /**
   * Pre-aggregate repartitioned aggregators before their repartition topic (default true;
   * AGGREGATION_PREAGGREGATE): one record per group key and window advance per commit instead
   * of one per event, lateness judged per input partition. See processors/PreAggregator.ts.
   */
  preaggregate?: boolean;
}

/** What the HTTP route and the pipeline handle know about each wired aggregator. */
export interface AggregatorHandle {
  spec: AggregatorSpec;
  storeName: string;
  /** The processor node counting `late` for this aggregator. */
  processorName: string | undefined;
  windows: TimeWindows;
  emit: AggregateEmit;
  /** Partials cross the repartition topic (PreAggregator), not events. */
  preaggregated: boolean;
}

export const aggregateStoreName = (name: string) => `agg-${name}`;

/**
 * Wires windowed aggregations beside the main path. Per aggregator: filter → (re-key through a
 * repartition topic when the group key is not the user id) → (exact distinct marking) →
 * windowedBy(tumbling or hopping, with grace).aggregate → rows to the aggregate topic.
 * Records later than window end + grace are counted `late` by the aggregate node and dropped.
 * A repartitioned aggregator with a merge is pre-aggregated instead (options.preaggregate):
 * filter → pre-aggregate (partials per key and window advance, lateness and distinct members
 * judged here) → repartition → merge into the windows → rows.
 *
 * @example
 *   const handles = addWindowedAggregations(kept, DEFAULT_AGGREGATORS, { topic: 'processor.aggregates', graceMs: 300_000 });
 *   // later: queryAggregation(app, { aggregator: 'user_hourly_attempts', key: 'user:123' }, handles)
 */
export function addWindowedAggregations(events: KStream<string, LearningEvent>, specs: AggregatorSpec[], options: AggregationOptions): AggregatorHandle[] {
  return specs.map((spec) => addAggregation(events, spec, options));
}

function addAggregation(events: KStream<string, LearningEvent>, spec: AggregatorSpec, options: AggregationOptions): AggregatorHandle {
  const override = options.overrides?.[spec.name] ?? {};
  const graceMs = override.graceMs ?? options.graceMs ?? 5 * 60_000;
  const emit = override.emit ?? options.emit ?? 'onUpdate';
  let windows = TimeWindows.ofSizeAndGrace(spec.sizeMs, graceMs);
  if (spec.advanceMs !== undefined && spec.advanceMs < spec.sizeMs) windows = windows.advanceBy(spec.advanceMs);
  const storeName = aggregateStoreName(spec.name);
  const n = spec.name;

  const selected = events.filter((_key, event) => spec.select(event), { name: `${n}-select` });
  const preaggregated = options.preaggregate !== false && preAggregates(spec, windows, emit);
  let updates: KStream<Windowed<string>, unknown>;
  if (preaggregated) {
    const partials = preAggregate(selected, { name: `${n}-preaggregate`, storeName: `${storeName}-partial`, spec, windows }).repartition({ name: `${n}-by-key` });
    updates = mergePartials(partials, { name: `${n}-merge`, storeName, spec, windows, retentionMs: override.retentionMs ?? spec.retentionMs });
  } else {
    updates = aggregatePerEvent(selected, spec, windows, emit, storeName, override.retentionMs ?? spec.retentionMs);
  }
  const rowKey = (windowed: Windowed<string>) => `${n}|${windowed.key}|${windowed.windowStart}`;
  let rows: KStream<string, AggregateRow>;
  if (emit === 'buffered') {
    // Only which window changed travels on; the buffer builds the row from the store at emit.
    // Keyed by the group key: the buffer builds the row key only for a window's first update per interval.
    const touched = updates.map((windowed: Windowed<string>): [string, PendingWindow] => [windowed.key, { k: windowed.key, s: windowed.windowStart }], { name: `${n}-touched` });
    rows = bufferAggregateRows<AggregateRow>(touched, {
      name: `${n}-buffer`,
      windowStore: storeName,
      pendingStore: `${storeName}-pending`,
      intervalMs: options.emitIntervalMs ?? 1000,
      rowOf: (key, windowStart, aggregate) => toRow(spec, key, windowStart, windowStart + spec.sizeMs, aggregate),
      rowKeyOf: (key, windowStart) => `${n}|${key}|${windowStart}`,
      windowSizeMs: spec.sizeMs,
    });
  } else {
    rows = updates.map(
      (windowed: Windowed<string>, aggregate: unknown): [string, AggregateRow] => [rowKey(windowed), toRow(spec, windowed.key, windowed.windowStart, windowed.windowEnd, aggregate)],
      { name: `${n}-to-row` },
    );
  }
  rows.to(options.topic, { name: `${n}-sink` });
  const processorName = preaggregated ? `${n}-preaggregate` : events.builder.nodeOwningStore(storeName);
  return { spec, storeName, processorName, windows, emit, preaggregated };
}

/** The per-event path: (repartition →) (distinct marking →) the DSL's windowed aggregate, late records dropped there. */
function aggregatePerEvent(
  selected: KStream<string, LearningEvent>,
  spec: AggregatorSpec,
  windows: TimeWindows,
  emit: AggregateEmit,
  storeName: string,
  retentionMs: number,
): KStream<Windowed<string>, unknown> {
  const n = spec.name;
  let keyed: KStream<string, unknown>;
  if (spec.keyOf) {
    const keyOf = spec.keyOf;
    keyed = selected
      .map((_key, event): [string, unknown] => [keyOf(event), spec.project(event)], { name: `${n}-project` })
      .repartition({ name: `${n}-by-key` });
  } else {
    keyed = selected.mapValues((event) => spec.project(event), { name: `${n}-project` });
  }
  let marked: KStream<string, Marked<unknown>>;
  if (spec.distinctMember) {
    marked = markDistinct(keyed, { name: `${n}-distinct`, storeName: `${storeName}-distinct`, windows, memberOf: spec.distinctMember });
  } else {
    marked = keyed.mapValues((value) => ({ value, first: false }), { name: `${n}-unmarked` });
  }
  const table = marked
    .groupByKey()
    .windowedBy(windows)
    .emit(emit === 'buffered' ? 'onUpdate' : emit)
    .aggregate<unknown>(spec.init, (_key, input, aggregate) => spec.add(aggregate, input.value, input.first), { name: storeName, retentionMs });
  return table.toStream({ name: `${n}-rows` });
}

function toRow(spec: AggregatorSpec, key: string, windowStart: number, windowEnd: number, aggregate: unknown): AggregateRow {
  return { aggregator: spec.name, key: `${spec.keyPrefix}${key}`, window_start: windowStart, window_end: windowEnd, ...spec.row(aggregate) };
}

export class AggregationQueryError extends NamedError {
  constructor(
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
  }
}

export interface AggregationQuery {
  aggregator: string;
  /** With or without the aggregator's prefix: "user:123" or "123". */
  key: string;
  /** Window starts in [from, to] (epoch ms); default: all retained windows. */
  from?: number;
  to?: number;
}

/**
 * Interactive query over the local window stores (GET /processor/aggregation): rows of one key,
 * oldest window first. Reads what is processed, including not yet committed updates (Kafka
 * Streams' default for interactive queries). `aggregators` defaults to the default pipeline's.
 *
 * @example
 *   queryAggregation(app, { aggregator: 'user_hourly_attempts', key: 'user:123', from: Date.now() - 86_400_000 })
 */
export function queryAggregation(app: StreamsApp, query: AggregationQuery, aggregators: Array<AggregatorHandle | AggregatorSpec> = DEFAULT_AGGREGATORS): AggregateRow[] {
  const found = aggregators.find((a) => specOf(a).name === query.aggregator);
  if (!found) throw new AggregationQueryError(`unknown aggregator "${query.aggregator}"; known: ${aggregators.map((a) => specOf(a).name).join(', ')}`, 404);
  const spec = specOf(found);
  const prefix = spec.keyPrefix;
  const key = prefix && query.key.startsWith(prefix) ? query.key.slice(prefix.length) : query.key;
  const from = query.from ?? 0;
  const to = query.to ?? Number.MAX_SAFE_INTEGER;
  if (from > to) throw new AggregationQueryError(`from (${from}) is after to (${to})`);
  const rows: AggregateRow[] = [];
  for (const store of app.localStores<WindowStore<string, unknown>>(aggregateStoreName(spec.name))) {
    for (const { key: windowed, value } of store.fetchRange(key, from, to)) {
      rows.push(toRow(spec, key, windowed.windowStart, windowed.windowStart + spec.sizeMs, value));
    }
  }
  return rows.sort((a, b) => a.window_start - b.window_start);
}

function specOf(aggregator: AggregatorHandle | AggregatorSpec): AggregatorSpec {
  return 'spec' in aggregator ? aggregator.spec : aggregator;
}

/** Every retained window of every aggregator on this instance (for dumps, tests and debugging). */
export function allAggregateRows(app: StreamsApp, handles: AggregatorHandle[]): AggregateRow[] {
  const rows: AggregateRow[] = [];
  for (const handle of handles) {
    for (const store of app.localStores<WindowStore<string, unknown>>(handle.storeName)) {
      for (const { key, value } of store.fetchAll(0, Number.MAX_SAFE_INTEGER)) {
        rows.push(toRow(handle.spec, key.key, key.windowStart, key.windowStart + handle.windows.sizeMs, value));
      }
    }
  }
  return rows;
}

import type { Logger } from 'pino';
import { bufferSerde, stringSerde } from '../state/Serde.js';
import type { KStream, Processor, ProcessorContext, StreamRecord, StreamsApp, StreamsBuilder } from '../topology/index.js';
import { DEFAULT_AGGREGATORS, type AggregatorSpec } from './AggregationSpecs.js';
import { dedupe, learningEventIdentity } from './DedupeProcessor.js';
import { enrich, referenceTables } from './Enrichment.js';
import { filterEvents } from './FilterProcessor.js';
import { FilterRuleSet } from './FilterRules.js';
import { guardAggregator } from './GuardedAggregator.js';
import { ProcessingFailures } from './ProcessingFailures.js';
import { LandingDecoder, withoutLandingHeaders } from './LandingContract.js';
import { STRINGS_REPAIRED_OUTCOME, UnparseableEventError, type LearningEvent } from './LandingEvent.js';
import { readPipelineConfig, type PipelineConfig } from './PipelineConfig.js';
// Here too: bench/pipeline-topology.ts loads it from this module, in trees from before PipelineTopics.ts as well.
export { ensurePipelineTopics } from './PipelineTopics.js';
import { defaultRoutingRules, routeEvents, RoutingTable } from './RoutingRules.js';
import { addWindowedAggregations, queryAggregation, type AggregateRow, type AggregationQuery, type AggregatorHandle } from './WindowedAggregations.js';

/** Node names of the main path, as they appear in streamline_processor_events_total{processor}. */
export const PIPELINE_NODES = { parse: 'parse', dedupe: 'dedupe', enrich: 'enrich', filter: 'filter', route: 'route' } as const;

export const DEDUPE_STORE = 'dedupe-ids';

export interface DefaultPipeline {
  config: PipelineConfig;
  /** Filter rules in force: replace(), loadFile(), reload(), stats(). */
  filters: FilterRuleSet;
  /** Routing rules in force: add(), remove(), setEnabled(), stats(). */
  routes: RoutingTable;
  aggregations: AggregatorHandle[];
  nodes: typeof PIPELINE_NODES;
  /** The main path's streams, for extensions (PIPELINE_EXTENSIONS, docs/EXTENDING.md) to add nodes to. */
  streams: PipelineStreams;
  /** Seed 002's failure rules: what was skipped, let through or left unenriched, and whether it persists (processors/ProcessingFailures.ts). */
  failures: ProcessingFailures;
  /** Interactive query of an aggregator on a running app. */
  query(app: StreamsApp, query: AggregationQuery): AggregateRow[];
  /** Stops watching the rule file. */
  close(): void;
}

/** The default pipeline's named streams, each keyed by user id. */
export interface PipelineStreams {
  /** Every landing record that parses (before dedupe). */
  parsed: KStream<string, LearningEvent>;
  /** Duplicates removed. */
  deduped: KStream<string, LearningEvent>;
  /** With the user, item and derived enrichment. */
  enriched: KStream<string, LearningEvent>;
  /** What the filter rules let through: what the outputs, the clean topic and the aggregations see. */
  filtered: KStream<string, LearningEvent>;
}

export interface PipelineOptions {
  filters?: FilterRuleSet;
  routes?: RoutingTable;
  aggregators?: AggregatorSpec[];
  logger?: Logger;
  /** Default: a one-minute degraded window; the app passes readProcessingFailures(env) (PROCESSOR_DEGRADED_AFTER). */
  failures?: ProcessingFailures;
  /** How landing records are read; default from config.landing (LANDING_* settings). */
  landing?: LandingDecoder;
}

/**
 * Landing records → LearningEvents. Unparseable records throw, and the runtime sends their
 * original bytes to the DLQ with dlq_reason naming what is wrong. The record is re-keyed by the
 * user id (the same as the landing key, which the ingress sets to it) and re-timed to the event
 * time, which windows use; dedupe TTLs keep counting from received_at.
 */
export class ParseProcessor implements Processor<string | null, Buffer | null, string, LearningEvent> {
  private context!: ProcessorContext<string, LearningEvent>;
  // Records whose lone surrogates were replaced (producers that bypass the ingress can send them).
  private readonly countRepair = () => this.context.count(STRINGS_REPAIRED_OUTCOME);

  init(context: ProcessorContext<string, LearningEvent>): void {
    this.context = context;
  }

  constructor(private readonly decoder: LandingDecoder = new LandingDecoder()) {}

  process(record: StreamRecord<string | null, Buffer | null>): void {
    // The landing contract (docs/LANDING.md): envelope, bare JSON or Protobuf, checked with the HTTP routes' schemas.
    let event: LearningEvent;
    try {
      event = this.decoder.decode(record, this.context.recordMetadata(), this.countRepair);
    } catch (error) {
      // refused_invalid (a JSON Schema) or refused_unparseable; the runtime dead-letters the record.
      if (error instanceof UnparseableEventError) this.context.count(`refused_${error.kind}`);
      throw error;
    }
    this.context.count(event.kind);
    this.context.forward({ key: event.user_id, value: event, timestamp: event.event_time, headers: withoutLandingHeaders(record.headers) });
  }
}

/**
 * The default pipeline `npm start` runs:
 *
 *   landing (KAFKA_TOPIC) ─▶ parse ─▶ dedupe ─▶ enrich (ref.users KTable, ref.items GlobalKTable)
 *     ─▶ filter (block → DLQ_TOPIC) ─▶ route ─▶ user.attempts, user.sessions, user.placements,
 *                                               user.activities, ml.training_events
 *                        └─▶ windowed aggregations ─▶ processor.aggregates (+ queryable stores)
 *
 * Aggregations read the filtered stream: blocked (bot) traffic counts nowhere.
 *
 * @example
 *   const builder = new StreamsBuilder();
 *   const config = readPipelineConfig();
 *   const pipeline = buildDefaultPipeline(builder, config, { logger });
 *   await ensurePipelineTopics(log, config);
 *   const app = new StreamsApp(builder.build(), log, { applicationId: 'streamline', stateDir, dlqTopic: config.dlqTopic, registry });
 *   await app.start();
 *   await fastify.register(processorRoutes, { app, pipeline });
 */
export function buildDefaultPipeline(builder: StreamsBuilder, config: PipelineConfig = readPipelineConfig(), options: PipelineOptions = {}): DefaultPipeline {
  const filters = options.filters ?? new FilterRuleSet();
  if (!options.filters && config.filterRulesFile) filters.watch(config.filterRulesFile, options.logger);
  const routes = options.routes ?? new RoutingTable(defaultRoutingRules(config.outputTopics), { allowedTopics: config.routeTopics, protobufTopics: config.outputFormats.protobufTopics });

  const landing = builder.stream<string | null, Buffer | null>(config.landingTopic, { name: 'landing', keySerde: stringSerde, valueSerde: bufferSerde });
  const decoder = options.landing ?? new LandingDecoder(config.landing);
  // process(): the parse keys each event by its user id. The ingress already keys landing records
  // by it, so they sit on the right partition: markAsPartitioned() spares the users join a repartition.
  const parsed: KStream<string, LearningEvent> = landing.process(() => new ParseProcessor(decoder), { name: PIPELINE_NODES.parse }).markAsPartitioned();
  const unique = dedupe(parsed, {
    name: PIPELINE_NODES.dedupe,
    storeName: DEDUPE_STORE,
    ttlMs: config.dedupe.ttlMs,
    defaultTtlMs: config.dedupe.defaultTtlMs,
    purgeIntervalMs: config.dedupe.purgeIntervalMs,
    idOf: learningEventIdentity,
    // From when the ingress saw it: a client cannot stretch or shrink the window with its clock.
    timeOf: (event) => event.received_at,
  });
  const failures = options.failures ?? new ProcessingFailures();
  const { users, items } = referenceTables(builder, config.referenceTopics);
  const enriched = enrich(unique, users, items, PIPELINE_NODES.enrich, failures);
  const kept = filterEvents(enriched, filters, { dlqTopic: config.dlqTopic, name: PIPELINE_NODES.filter, keySerde: stringSerde, failures });
  routeEvents(kept, routes, { name: PIPELINE_NODES.route, keySerde: stringSerde, protobufSchemaId: config.outputFormats.schemaId });
  kept.to(config.cleanEventsTopic, { name: 'clean-events', keySerde: stringSerde });
  const guarded = (options.aggregators ?? DEFAULT_AGGREGATORS).map((spec) => guardAggregator(spec, failures.tracker('aggregation', spec.name)) as AggregatorSpec);
  const aggregations = addWindowedAggregations(kept, guarded, {
    topic: config.aggregatesTopic,
    emit: config.aggregation.emit,
    emitIntervalMs: config.aggregation.emitIntervalMs,
    graceMs: config.aggregation.graceMs,
    preaggregate: config.aggregation.preaggregate,
  });
  return {
    config,
    filters,
    routes,
    aggregations,
    nodes: PIPELINE_NODES,
    streams: { parsed, deduped: unique, enriched, filtered: kept },
    failures,
    query: (app, query) => queryAggregation(app, query, aggregations),
    close: () => filters.unwatch(),
  };
}

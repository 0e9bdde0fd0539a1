/** Ready-made processors for the topology DSL and the default pipeline that wires them. */
export { parseLandingEvent, toLandingEnvelope, UnparseableEventError, type LearningEvent, type EventKind, type Enrichment, type DerivedEnrichment } from './LandingEvent.js';
export { DedupeProcessor, dedupe, learningEventIdentity, type DedupeOptions } from './DedupeProcessor.js';
export { DEFAULT_DEDUPE_TTLS, DEFAULT_MAX_REPLAYS } from './SeedDefaults.js';
export { readOutputTopics, readRouteTopics, type OutputTopics } from './OutputTopics.js';
export { EnrichProcessor, enrich, referenceTables, deriveEnrichment, USERS_STORE, ITEMS_STORE } from './Enrichment.js';
export { loadReferenceData, parseNdjson, ensureReferenceTopic, ReferenceDataError, DEFAULT_REFERENCE_TOPICS, type UserProfile, type ItemProfile, type ReferenceTopics } from './ReferenceData.js';
export { compileCondition, type Condition, type ConditionOp } from './RuleConditions.js';
export { FilterRuleSet, FilterRuleError, DEFAULT_FILTER_RULES, compileFilterRules, type FilterRule, type FilterAction } from './FilterRules.js';
export { FilterProcessor, filterEvents } from './FilterProcessor.js';
export { RoutingTable, RouteProcessor, routeEvents, defaultRoutingRules, RoutingRuleError, ROUTE_TOPIC_HEADER, type RoutingRule } from './RoutingRules.js';
export { DistinctMarker, markDistinct, type Marked } from './DistinctMarker.js';
export { DEFAULT_AGGREGATORS, type AggregatorSpec } from './AggregationSpecs.js';
export { addWindowedAggregations, queryAggregation, allAggregateRows, aggregateStoreName, AggregationQueryError, type AggregateRow, type AggregationQuery, type AggregatorHandle, type AggregateEmit } from './WindowedAggregations.js';
export { AggregateRowBuffer, bufferAggregateRows } from './AggregateRowBuffer.js';
// Failed and refused events go to DLQ_TOPIC; its default is config's, shared with the ingress.
export { DEFAULT_DLQ_TOPIC } from '../config/index.js';
export { readPipelineConfig, defaultPipelineConfig, type PipelineConfig } from './PipelineConfig.js';
export { compileSafePattern, PatternError, MAX_SUBJECT_CHARS, type SafePattern } from './SafePattern.js';
export { replayDeadLetters, quarantineTopic, dlqReplayCounter } from './DeadLetterReplay.js';
// Made by the runtime's DeadLetters (topology/), where poison records get the same headers; kept here for processors' users.
export { deadLetterRecord } from '../topology/index.js';
export { buildDefaultPipeline, ParseProcessor, PIPELINE_NODES, DEDUPE_STORE, type DefaultPipeline, type PipelineOptions, type PipelineStreams } from './DefaultPipeline.js';
export { ensurePipelineTopics } from './PipelineTopics.js';
export { loadPipelineExtensions, applyPipelineExtensions, ensureExtensionTopics, type PipelineExtension, type PipelineExtensionModule, type ClickHouseTable } from './PipelineExtensions.js';
export { processorRoutes, type ProcessorRoutesOptions } from './http/ProcessorRoutes.js';

import { createRequire } from 'node:module';
import type { Ajv as AjvClass, ValidateFunction } from 'ajv';
import type { OutputTopics } from './OutputTopics.js';
import type { RecordHeaders } from '../log/Log.js';
import { MAX_RULE_DEPTH, tooDeepAt } from './JsonDepth.js';
import { jsonSerde, stringSerde, type Serde } from '../state/Serde.js';
import { fixedKeyRecord, type FixedKeyProcessor, type FixedKeyProcessorContext, type FixedKeyRecord, type KStream } from '../topology/index.js';
import type { LearningEvent } from './LandingEvent.js';
import { enrichedEventSerde, OUTPUT_FORMATS, PROTOBUF_OUTPUT_CONTENT_TYPE, type OutputFormat } from './OutputFormats.js';
import { compileCondition, conditionSchema, type CompiledCondition, type Condition } from './RuleConditions.js';
import { NamedError } from '../errors/NamedError.js';

/**
 * A routing rule (seed 003): events of the listed types matching the condition go to every
 * listed topic. Rules run in priority order (lower first); every enabled matching rule adds its
 * topics (multi-destination), and an event goes to each distinct topic once.
 */
export interface RoutingRule {
  id: string;
  description?: string;
  /** Lower first; seed 003's rules use 1.. */
  priority: number;
  enabled: boolean;
  event_types?: string[];
  when?: Condition;
  topics: string[];
  /** How this rule's records are written: json or protobuf; default each topic's (PROTOBUF_OUTPUT_TOPICS, else json). */
  format?: OutputFormat;
}

export class RoutingRuleError extends NamedError {}

/** seed 003's default rules, plus collector and product events to the activities topic. */
export function defaultRoutingRules(topics: OutputTopics): RoutingRule[] {
  return [
    { id: 'high_quality_attempts', description: 'Attempts with quality >= 4 also feed ML training', priority: 1, enabled: true, event_types: ['attempt'], when: { field: 'payload.quality', op: 'gte', value: 4 }, topics: [topics.mlTraining] },
    { id: 'all_attempts', description: 'Every attempt', priority: 2, enabled: true, event_types: ['attempt'], topics: [topics.attempts] },
    { id: 'completed_sessions', description: 'Sessions with items attempted > 0', priority: 3, enabled: true, event_types: ['session'], when: { field: 'payload.items_attempted', op: 'gt', value: 0 }, topics: [topics.sessions] },
    {
      id: 'completed_placements',
      description: 'Completed placement tests, to placements and ML training',
      priority: 4,
      enabled: true,
      event_types: ['placement'],
      when: { field: 'payload.was_completed', op: 'eq', value: true },
      topics: [topics.placements, topics.mlTraining],
    },
    { id: 'activities', description: 'Collector (seed 001) and product (seed 004) events', priority: 5, enabled: true, event_types: ['interaction', 'progress', 'assessment', 'error', 'system', 'product'], topics: [topics.activities] },
  ];
}

/**
 * The rule schema's validator, compiled on first use (the first rule added): a process or worker
 * thread that imports the processors without building a routing table (the sink, the HTTP thread)
 * never loads ajv or generates its code.
 */
let validateRuleFn: ValidateFunction | undefined;
function validateRule(rule: unknown): boolean {
  validateRuleFn ??= compileRuleValidator();
  return validateRuleFn(rule);
}

function compileRuleValidator(): ValidateFunction {
  const { Ajv } = createRequire(import.meta.url)('ajv') as { Ajv: typeof AjvClass };
  const ajv = new Ajv({ strict: false });
  ajv.addSchema(conditionSchema);
  return ajv.compile(RULE_SCHEMA);
}

const RULE_SCHEMA = {
  type: 'object',
  required: ['id', 'priority', 'topics'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 128 },
    description: { type: 'string' },
    priority: { type: 'integer' },
    enabled: { type: 'boolean' },
    event_types: { type: 'array', items: { type: 'string', minLength: 1 } },
    when: { $ref: 'streamline-condition' },
    topics: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, maxLength: 249, pattern: '^[A-Za-z0-9._-]+$' } },
    format: { enum: OUTPUT_FORMATS },
  },
};

interface CompiledRoute {
  rule: RoutingRule;
  types: Set<string> | undefined;
  matches: CompiledCondition | undefined;
  routed: number;
}

/**
 * The routing rules in force, shared by every task's route processor; rules can be added,
 * replaced, enabled/disabled and removed at runtime (the HTTP API calls these).
 *
 * @example
 *   const config = readPipelineConfig();   // ROUTE_TOPICS=user.attempts,...,fast_responses
 *   const table = new RoutingTable(defaultRoutingRules(config.outputTopics), { allowedTopics: config.routeTopics });
 *   table.add({ id: 'fast', priority: 0, enabled: true, event_types: ['attempt'],
 *     when: { field: 'payload.time_taken_ms', op: 'lt', value: 1000 }, topics: ['fast_responses'] });
 */
export class RoutingTable {
  private routes: CompiledRoute[] = [];
  private readonly allowed: ReadonlySet<string>;
  private readonly protobufTopics: ReadonlySet<string>;
  unrouted = 0;

  /**
   * allowedTopics: the only topics rules may target (readRouteTopics); default the initial rules' topics.
   * protobufTopics: topics written as Protobuf unless a rule says otherwise (readOutputFormats).
   */
  constructor(rules: RoutingRule[], options: { allowedTopics?: readonly string[]; protobufTopics?: readonly string[] } = {}) {
    this.allowed = new Set(options.allowedTopics ?? rules.flatMap((rule) => rule.topics ?? []));
    this.protobufTopics = new Set(options.protobufTopics ?? []);
    for (const rule of rules) this.add(rule);
  }

  /** The topics rules may target, sorted. */
  allowedTopics(): string[] {
    return [...this.allowed].sort();
  }

  /** Adds or replaces (same id) a rule; throws RoutingRuleError for an invalid one. */
  add(input: RoutingRule): void {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new RoutingRuleError('invalid routing rule: send one rule as a JSON object');
    // Before ajv: its $ref recursion overflows the stack on a 20k-deep condition.
    const deep = tooDeepAt(input, MAX_RULE_DEPTH);
    if (deep !== undefined) throw new RoutingRuleError(`invalid routing rule: nested deeper than ${MAX_RULE_DEPTH} levels (at ${deep})`);
    const rule: RoutingRule = { ...input, enabled: input.enabled ?? true };
    if (!validateRule(rule)) {
      throw new RoutingRuleError(`invalid routing rule: ${(validateRuleFn?.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`).join('; ')}`);
    }
    const refused = rule.topics.filter((topic) => !this.allowed.has(topic));
    if (refused.length > 0) {
      throw new RoutingRuleError(`routing rule "${rule.id}" targets ${refused.map((t) => `"${t}"`).join(', ')}: rules may target only the configured output topics (ROUTE_TOPICS): ${this.allowedTopics().join(', ')}`);
    }
    let matches: CompiledCondition | undefined;
    try {
      matches = rule.when ? compileCondition(rule.when) : undefined;
    } catch (error) {
      throw new RoutingRuleError(`invalid routing rule "${rule.id}": ${(error as Error).message}`);
    }
    const next = this.routes.filter((r) => r.rule.id !== rule.id);
    next.push({ rule, types: rule.event_types ? new Set(rule.event_types) : undefined, matches, routed: 0 });
    next.sort((a, b) => a.rule.priority - b.rule.priority);
    // Swapped whole: a task reading the old array mid-event finishes with it.
    this.routes = next;
  }

  remove(id: string): boolean {
    const before = this.routes.length;
    this.routes = this.routes.filter((r) => r.rule.id !== id);
    return this.routes.length < before;
  }

  setEnabled(id: string, enabled: boolean): boolean {
    const route = this.routes.find((r) => r.rule.id === id);
    if (!route) return false;
    this.add({ ...route.rule, enabled });
    return true;
  }

  rules(): RoutingRule[] {
    return this.routes.map((r) => r.rule);
  }

  /** Distinct destination topics of an event, in rule priority order. */
  destinations(event: LearningEvent): string[] {
    return this.routesOf(event).map((destination) => destination.topic);
  }

  /** Destinations with the format of each: the first (highest-priority) rule to name a topic decides it. */
  routesOf(event: LearningEvent): Array<{ topic: string; format: OutputFormat }> {
    const out: Array<{ topic: string; format: OutputFormat }> = [];
    for (const route of this.routes) {
      if (!route.rule.enabled || (route.types && !route.types.has(event.event_type))) continue;
      if (route.matches && !route.matches(event)) continue;
      route.routed++;
      for (const topic of route.rule.topics) {
        if (!out.some((destination) => destination.topic === topic)) out.push({ topic, format: route.rule.format ?? this.formatOf(topic) });
      }
    }
    return out;
  }

  /** A topic's configured format (PROTOBUF_OUTPUT_TOPICS), before any rule's own. */
  formatOf(topic: string): OutputFormat {
    return this.protobufTopics.has(topic) ? 'protobuf' : 'json';
  }

  stats(): Array<RoutingRule & { routed: number }> {
    return this.routes.map((r) => ({ ...r.rule, routed: r.routed }));
  }
}

/** Header naming the destination on records between the route processor and its sink. */
export const ROUTE_TOPIC_HEADER = 'streamline_route_topic';

/**
 * Forwards one record per destination topic, naming the topic in a header that the sink's
 * TopicNameExtractor reads (the header stays on the output record: it documents the route).
 * Events no rule takes are counted `unrouted` and dropped.
 */
export class RouteProcessor<K> implements FixedKeyProcessor<K, LearningEvent, LearningEvent> {
  private context!: FixedKeyProcessorContext<K, LearningEvent>;

  /** sinks: the child sink node of each output format. */
  constructor(
    private readonly table: RoutingTable,
    private readonly sinks?: Readonly<Record<OutputFormat, string>>,
  ) {}

  init(context: FixedKeyProcessorContext<K, LearningEvent>): void {
    this.context = context;
  }

  process(record: FixedKeyRecord<K, LearningEvent>): void {
    const destinations = this.table.routesOf(record.value);
    if (destinations.length === 0) {
      this.table.unrouted++;
      this.context.count('unrouted');
      return;
    }
    for (const { topic, format } of destinations) {
      this.context.count('routed');
      const headers: RecordHeaders = { ...record.headers, [ROUTE_TOPIC_HEADER]: topic };
      if (format === 'protobuf') headers['content-type'] = PROTOBUF_OUTPUT_CONTENT_TYPE;
      this.context.forward(fixedKeyRecord(record, record.value, { headers }), this.sinks?.[format]);
    }
  }
}

/**
 * Routes a stream to its destination topics.
 *
 * @example
 *   routeEvents(kept, new RoutingTable(defaultRoutingRules(readOutputTopics())));
 */
export function routeEvents<K>(stream: KStream<K, LearningEvent>, table: RoutingTable, options: { name?: string; keySerde?: Serde<K>; protobufSchemaId?: number } = {}): void {
  const name = options.name ?? 'route';
  // One sink per format: rules (and their formats) change at runtime, the topology does not.
  const sinks: Record<OutputFormat, string> = { json: `${name}-sink`, protobuf: `${name}-protobuf-sink` };
  const routed = stream.processValues<LearningEvent>(() => new RouteProcessor<K>(table, sinks), { name });
  const keySerde = options.keySerde ?? stream.keySerde ?? (stringSerde as unknown as Serde<K>);
  routed.to((record) => record.headers[ROUTE_TOPIC_HEADER]!, { name: sinks.json, keySerde, valueSerde: jsonSerde<LearningEvent>() });
  routed.to((record) => record.headers[ROUTE_TOPIC_HEADER]!, { name: sinks.protobuf, keySerde, valueSerde: enrichedEventSerde(options.protobufSchemaId) });
}

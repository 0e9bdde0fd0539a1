import { jsonSerde, stringSerde, type Serde } from '../state/Serde.js';
import { KStream, type Processor, type ProcessorContext, type StreamRecord } from '../topology/index.js';
import { deadLetterRecord } from './DeadLetter.js';
import { toLandingEnvelope, type LearningEvent } from './LandingEvent.js';
import type { FilterDecision, FilterRuleSet } from './FilterRules.js';
import type { FailureTracker, ProcessingFailures } from './ProcessingFailures.js';

/**
 * Applies a FilterRuleSet to each event: passing events (possibly flagged, hinted or
 * transformed) go to the `passed` child; blocked ones go to the `deadLetters` child as their
 * landing envelope with the DLQ headers, so a replay after a rule fix re-enters the pipeline.
 * Counts passed, blocked, flagged, hinted, transformed. Seed 002: "Filter failures: default to
 * allowing events through": a rule set that throws lets the event through unchanged, counted
 * `failed_open` and on the failures tracker (filter_failures_total{filter="rules"}).
 */
export class FilterProcessor<K> implements Processor<K, LearningEvent, K, unknown> {
  private context!: ProcessorContext<K, unknown>;

  constructor(
    private readonly rules: FilterRuleSet,
    private readonly passedChild: string,
    private readonly deadLetterChild: string,
    private readonly failures?: ProcessingFailures,
  ) {}

  private tracker: FailureTracker | undefined;

  init(context: ProcessorContext<K, unknown>): void {
    this.context = context;
    this.tracker = this.failures?.tracker('filter', 'rules');
  }

  process(record: StreamRecord<K, LearningEvent>): void {
    const before = record.value;
    let decision: FilterDecision<LearningEvent>;
    const ruleErrorsBefore = this.rules.ruleErrors;
    try {
      decision = this.rules.apply(before);
      // A rule that threw was skipped (the event went on through the others): a failure for the degraded check.
      if (this.rules.ruleErrors === ruleErrorsBefore) this.tracker?.ok(this.context.partition);
      else this.tracker?.failed(new Error(this.rules.lastRuleError ?? 'a filter rule threw'), this.context.partition);
    } catch (error) {
      if (!this.tracker) throw error;
      this.tracker.failed(error, this.context.partition);
      this.context.count('failed_open');
      this.context.count('passed');
      this.context.forward({ key: record.key, value: before, timestamp: record.timestamp, headers: record.headers }, this.passedChild);
      return;
    }
    if (decision.blockedBy !== undefined) {
      this.context.count('blocked');
      const letter = deadLetterRecord(this.context as ProcessorContext<unknown, unknown>, record, decision.reason!);
      this.context.forward({ ...letter, value: toLandingEnvelope(before) }, this.deadLetterChild);
      return;
    }
    const after = decision.event;
    if (after !== before) {
      if (after.flags !== before.flags) this.context.count('flagged');
      if (after.hints !== before.hints) this.context.count('hinted');
      if (after.payload !== before.payload || after.enrichment !== before.enrichment) this.context.count('transformed');
    }
    this.context.count('passed');
    this.context.forward({ key: record.key, value: after, timestamp: record.timestamp, headers: record.headers }, this.passedChild);
  }
}

/**
 * Adds the filter to a stream: returns the stream of passing events; blocked events are written
 * to dlqTopic.
 *
 * @example
 *   const rules = new FilterRuleSet(DEFAULT_FILTER_RULES);
 *   const kept = filterEvents(enriched, rules, { dlqTopic: 'dlq.events' });
 */
export function filterEvents<K>(stream: KStream<K, LearningEvent>, rules: FilterRuleSet, options: { dlqTopic: string; name?: string; keySerde?: Serde<K>; failures?: ProcessingFailures }): KStream<K, LearningEvent> {
  const name = options.name ?? 'filter';
  const passed = `${name}-passed`;
  const deadLetters = `${name}-dlq`;
  const topology = stream.builder.topology;
  topology.addProcessor(name, () => new FilterProcessor<K>(rules, passed, deadLetters, options.failures), stream.nodeName);
  topology.addProcessor(passed, () => passThrough(), name);
  const keySerde = options.keySerde ?? stream.keySerde ?? (stringSerde as unknown as Serde<K>);
  topology.addSink(deadLetters, options.dlqTopic, { keySerde, valueSerde: jsonSerde<unknown>() }, name);
  return new KStream<K, LearningEvent>(stream.builder, passed, stream.keySerde, undefined, stream.repartitionRequired);
}

function passThrough<K, V>(): Processor<K, V, K, V> {
  let context: ProcessorContext<K, V>;
  return {
    init: (c) => {
      context = c;
    },
    process: (record) => context.forward(record),
  };
}

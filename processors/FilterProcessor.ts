import { jsonSerde, stringSerde, type Serde } from '../state/Serde.js';
import { deadLetterRecord, fixedKeyRecord, type FixedKeyProcessor, type FixedKeyProcessorContext, type FixedKeyRecord, type KStream, type ProcessorContext } from '../topology/index.js';
import { toLandingEnvelope, type LearningEvent } from './LandingEvent.js';
import type { FilterDecision, FilterRuleSet } from './FilterRules.js';
import type { FailureTracker, ProcessingFailures } from './ProcessingFailures.js';

/** A blocked event on its way to the DLQ: its landing envelope (the record carries the DLQ headers). */
export class BlockedEvent {
  constructor(readonly envelope: unknown) {}
}

/** What the filter node forwards: the (possibly changed) event when it passes, a BlockedEvent when a rule blocks it. */
export type FilterOutcome = LearningEvent | BlockedEvent;

/**
 * Applies a FilterRuleSet to each event: passing events (possibly flagged, hinted or
 * transformed) are forwarded as they are; blocked ones as a BlockedEvent holding their landing
 * envelope, with the DLQ headers, so a replay after a rule fix re-enters the pipeline.
 * filterEvents() splits the two.
 * Counts passed, blocked, flagged, hinted, transformed. Seed 002: "Filter failures: default to
 * allowing events through": a rule set that throws lets the event through unchanged, counted
 * `failed_open` and on the failures tracker (filter_failures_total{filter="rules"}).
 */
export class FilterProcessor<K> implements FixedKeyProcessor<K, LearningEvent, FilterOutcome> {
  private context!: FixedKeyProcessorContext<K, FilterOutcome>;

  constructor(
    private readonly rules: FilterRuleSet,
    private readonly failures?: ProcessingFailures,
  ) {}

  private tracker: FailureTracker | undefined;

  init(context: FixedKeyProcessorContext<K, FilterOutcome>): void {
    this.context = context;
    this.tracker = this.failures?.tracker('filter', 'rules');
  }

  process(record: FixedKeyRecord<K, LearningEvent>): void {
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
      this.context.forward(record);
      return;
    }
    if (decision.blockedBy !== undefined) {
      this.context.count('blocked');
      const letter = deadLetterRecord(this.context as ProcessorContext<unknown, unknown>, record, decision.reason!);
      this.context.forward(fixedKeyRecord(record, new BlockedEvent(toLandingEnvelope(before)), { headers: letter.headers }));
      return;
    }
    const after = decision.event;
    if (after !== before) {
      if (after.flags !== before.flags) this.context.count('flagged');
      if (after.hints !== before.hints) this.context.count('hinted');
      if (after.payload !== before.payload || after.enrichment !== before.enrichment) this.context.count('transformed');
    }
    this.context.count('passed');
    this.context.forward(after === before ? record : fixedKeyRecord(record, after));
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
  const keySerde = options.keySerde ?? stream.keySerde ?? (stringSerde as unknown as Serde<K>);
  const outcomes = stream.processValues<FilterOutcome>(() => new FilterProcessor<K>(rules, options.failures), { name });
  const branches = outcomes.split([
    { name: 'passed', predicate: (_key, outcome) => !(outcome instanceof BlockedEvent) },
    { name: 'blocked', predicate: () => true },
  ], { name: `${name}-split` });
  branches.get('blocked')!
    .mapValues(blockedEnvelope, { name: `${name}-envelope` })
    .to(options.dlqTopic, { name: `${name}-dlq`, keySerde, valueSerde: jsonSerde<unknown>() });
  return branches.get('passed')!.mapValues(passedEvent, { name: `${name}-passed` });
}

function blockedEnvelope(outcome: FilterOutcome): unknown {
  if (!(outcome instanceof BlockedEvent)) throw new Error('a passing event reached the blocked branch');
  return outcome.envelope;
}

function passedEvent(outcome: FilterOutcome): LearningEvent {
  if (outcome instanceof BlockedEvent) throw new Error('a blocked event reached the passed branch');
  return outcome;
}

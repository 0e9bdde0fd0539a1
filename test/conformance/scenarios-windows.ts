import { StreamsBuilder, TimeWindows, WindowedSerdes, type Windowed } from '../../topology/index.js';
import { stringSerde } from '../../state/Serde.js';
import type { Inputs, Phase } from './inputs.js';
import type { Scenario } from './scenarios.js';

/**
 * Conformance scenarios of the windowing and stream-side operators (issue 19 part 3): each has a
 * twin of the same name in conformance/kafka-streams/.../WindowScenarios.java.
 */

type Json = Record<string, unknown> | null;

const KEYS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'];
const EVENT_COUNT = 300;

const windowedKey = (windowed: Windowed<string>) => `${windowed.key}@${windowed.windowStart}/${windowed.windowEnd}`;

/** User activity: out of order, some late, 3% null keys and values (inputs.ts's clock). */
function activity(inputs: Inputs, topic = 'events'): Phase {
  return inputs.timestamps(EVENT_COUNT).map((timestamp) => ({
    topic,
    key: inputs.chance(0.03) ? null : inputs.pick(KEYS),
    value: inputs.chance(0.03) ? null : { n: inputs.int(0, 99) },
    timestamp,
  }));
}

const eventsOf = (builder: StreamsBuilder, topic: (name: string) => string) => builder.stream<string, Json>(topic('events'));

export const WINDOW_SCENARIOS: Scenario[] = [
  {
    // Windowed keys through a topic with WindowedSerdes and back: both sides write and read the
    // same bytes (the inner key, then the window start).
    name: 'windowed-serde-repartition',
    outputTopics: ['out'],
    inputs: (i) => [[], activity(i)],
    build: (b, t) =>
      eventsOf(b, t)
        .groupByKey()
        .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 10_000))
        .count()
        .toStream()
        .repartition({ keySerde: WindowedSerdes.timeWindowedSerdeFrom(stringSerde, 60_000) })
        .selectKey((windowed) => windowedKey(windowed))
        .to(t('out')),
  },
];

import { compareOutputs, tamper, TAMPERINGS, type Agreement } from './differ.js';
import { buildKafkaStreamsSide, runKafkaStreams } from './runKafkaStreams.js';
import { runOurs } from './runOurs.js';
import { planRuns, SEEDS, selectedScenarios, type RunOutputs } from './runs.js';

/**
 * Our DSL on the embedded log against Kafka Streams 4.4.0's TopologyTestDriver (issue 19): the
 * same seeded inputs through both, outputs compared record by record on value, order and
 * timestamp. The Kafka Streams side is conformance/kafka-streams (built with Maven, run once
 * for every scenario x seed).
 */
describe('conformance with Kafka Streams 4.4.0', () => {
  const SCENARIOS = selectedScenarios();
  const runs = planRuns(SCENARIOS);
  let theirs: RunOutputs;
  let ours: RunOutputs;
  const agreements = new Map<string, Agreement>();

  beforeAll(async () => {
    // The jar is built first (a build failure is the first thing to report), then both sides run at once.
    buildKafkaStreamsSide();
    // If our side fails, the JVM is stopped rather than left running after jest exits.
    const stopJvm = new AbortController();
    [theirs, ours] = await Promise.all([
      runKafkaStreams(runs, stopJvm.signal),
      runOurs(runs).catch((error: unknown) => {
        stopJvm.abort();
        throw error;
      }),
    ]);
    for (const run of runs) agreements.set(run.id, compareOutputs(theirs.get(run.id)!, ours.get(run.id)!));
    const rows = SCENARIOS.map((scenario) => {
      const of = runs.filter((r) => r.scenario === scenario.name).map((r) => agreements.get(r.id)!);
      const count = (dimension: 'values' | 'order' | 'timestamps') => `${of.filter((a) => a[dimension]).length}/${of.length}`;
      return `${scenario.name.padEnd(40)} ${count('values').padStart(6)} ${count('order').padStart(6)} ${count('timestamps').padStart(10)}`;
    });
    console.log(['scenario'.padEnd(40) + ' values  order timestamps', ...rows].join('\n'));
  }, 1_800_000); // a quiet machine needs about 3.5 minutes; a loaded one several times that (runOurs fails on a stall, not on slowness)

  test('every scenario runs with at least 8 seeds and produces output on the Kafka Streams side', () => {
    expect(SEEDS.length).toBeGreaterThanOrEqual(8);
    for (const scenario of SCENARIOS) {
      const produced = runs.filter((r) => r.scenario === scenario.name).some((r) => Object.values(theirs.get(r.id)!).some((records) => records.length > 0));
      expect({ scenario: scenario.name, produced }).toEqual({ scenario: scenario.name, produced: true });
    }
  });

  test.each(SCENARIOS.map((s) => s.name))('%s agrees on values, order and timestamps for every seed', (name) => {
    const disagreements = runs
      .filter((r) => r.scenario === name)
      .map((r) => ({ run: r.id, ...agreements.get(r.id)! }))
      .filter((a) => !(a.values && a.order && a.timestamps))
      .map((a) => `${a.run}: ${a.details.slice(0, 3).join('; ')}`);
    expect(disagreements).toEqual([]);
  });

  test('the differ reports every tampering of the Kafka Streams outputs', () => {
    let tampered = 0;
    for (const run of runs) {
      const original = theirs.get(run.id)!;
      const same = compareOutputs(original, original);
      expect(same.values && same.order && same.timestamps).toBe(true);
      for (const { tamper: how, breaks, keeps } of TAMPERINGS) {
        const changed = tamper(original, how);
        if (!changed) continue;
        tampered++;
        const agreement = compareOutputs(original, changed);
        for (const dimension of breaks) expect({ run: run.id, how, dimension, agrees: agreement[dimension] }).toEqual({ run: run.id, how, dimension, agrees: false });
        for (const dimension of keeps) expect({ run: run.id, how, dimension, agrees: agreement[dimension] }).toEqual({ run: run.id, how, dimension, agrees: true });
      }
    }
    // Every kind of tampering was tried on most runs (a run needs two different records for a swap).
    expect(tampered).toBeGreaterThan(runs.length * (TAMPERINGS.length - 1));
  });
});

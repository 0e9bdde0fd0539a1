import { Inputs, type Phase } from './inputs.js';
import { SCENARIOS, type Scenario } from './scenarios.js';

/** One scenario with one seed's inputs: what both sides run. */
export interface Run {
  id: string;
  scenario: string;
  seed: number;
  phases: Phase[];
}

export interface OutputRecord {
  key: string | null;
  value: unknown;
  timestamp: number;
}

/** Per run id, per output topic (the scenario's name for it), the records in order. */
export type RunOutputs = Map<string, Record<string, OutputRecord[]>>;

export const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];

export function scenarioNamed(name: string): Scenario {
  const scenario = SCENARIOS.find((s) => s.name === name);
  if (!scenario) throw new Error(`unknown scenario ${name}`);
  return scenario;
}

export function planRuns(scenarios: Scenario[] = SCENARIOS, seeds: number[] = SEEDS): Run[] {
  return scenarios.flatMap((scenario) =>
    seeds.map((seed) => ({ id: `${scenario.name}#${seed}`, scenario: scenario.name, seed, phases: scenario.inputs(new Inputs(seed * 7919 + scenario.name.length)) })),
  );
}

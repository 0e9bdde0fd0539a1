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

/**
 * The scenarios a run of the suite covers: all of them, or those CONFORMANCE_SCENARIOS names
 * (comma-separated; for working on one operator: the JVM and our side then run only those).
 * An unknown name fails rather than silently running nothing.
 */
export function selectedScenarios(env: NodeJS.ProcessEnv = process.env): Scenario[] {
  const names = env.CONFORMANCE_SCENARIOS?.split(',').map((name) => name.trim()).filter((name) => name.length > 0);
  if (!names || names.length === 0) return SCENARIOS;
  return names.map(scenarioNamed);
}

export function planRuns(scenarios: Scenario[] = SCENARIOS, seeds: number[] = SEEDS): Run[] {
  return scenarios.flatMap((scenario) =>
    seeds.map((seed) => ({ id: `${scenario.name}#${seed}`, scenario: scenario.name, seed, phases: scenario.inputs(new Inputs(seed * 7919 + scenario.name.length)) })),
  );
}

/**
 * CPU per event of one processor's own work, two source trees alternately in one process (as
 * pipeline-topology.ts --ab does for the whole topology): for changes too small to see through
 * the whole topology's run-to-run spread on a busy machine. No stores, log or runtime: the
 * processor is driven directly with a context that counts what it forwards.
 *
 *   npx tsx bench/processor-ab.ts preaggregate /path/to/treeA /path/to/treeB [rounds=10]
 *   npx tsx bench/processor-ab.ts derive-enrichment /path/to/treeA /path/to/treeB [rounds=10]
 *
 * preaggregate: the four pre-aggregated specs' PreAggregators over 200k events (1,250 users a
 * task, a commit every 1,250 events), distinct-member markers in a Map. derive-enrichment:
 * deriveEnrichment over 300k attempts and sessions of 5,000 users. Prints each round and the
 * median B/A ratio of CPU µs per event.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AggregatorSpec } from '../processors/AggregationSpecs.js';
import type { LearningEvent } from '../processors/LandingEvent.js';
import { median } from './lib/Percentiles.js';

const [scenario, treeA, treeB, roundsArg] = process.argv.slice(2);
if (!treeA || !treeB || (scenario !== 'preaggregate' && scenario !== 'derive-enrichment')) {
  throw new Error('usage: processor-ab.ts preaggregate|derive-enrichment <treeA> <treeB> [rounds]');
}
const ROUNDS = Number(roundsArg ?? 10);
const BASE = Date.UTC(2026, 0, 5, 8);

function lcg(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

/** Runs the scenario once on one tree; returns CPU µs per event. */
type Run = () => number;

function cpuMicrosPerEvent(events: number, work: () => void): number {
  const start = process.cpuUsage();
  work();
  const cpu = process.cpuUsage(start);
  return (cpu.user + cpu.system) / events;
}

async function preaggregate(root: string): Promise<Run> {
  const load = (file: string) => import(pathToFileURL(path.join(root, file)).href);
  const [{ PreAggregator }, { DEFAULT_AGGREGATORS }, { TimeWindows }] = await Promise.all([
    load('processors/PreAggregator.ts'),
    load('processors/AggregationSpecs.ts'),
    load('topology/dsl/TimeWindows.ts'),
  ]);
  const specs = (DEFAULT_AGGREGATORS as AggregatorSpec[]).filter((spec) => spec.keyOf);
  const random = lcg(7);
  const records = Array.from({ length: 200_000 }, (_, i) => {
    const user = `user_${Math.floor(random() * 1250)}`;
    const r = random();
    const kind = r < 0.6 ? 'attempt' : r < 0.7 ? 'session' : 'product';
    const value = {
      user_id: user, kind, event_type: kind,
      payload: { item_id: `item_${i % 500}`, correct: random() < 0.7, time_taken_ms: 900, event_name: 'click', channel: 'web' },
      enrichment: { user: { jurisdiction: ['US', 'DE', 'IN', 'BR'][i % 4] }, item: { difficulty: 0.5 } },
    } as unknown as LearningEvent;
    return { key: user, value, timestamp: BASE + i * 5, headers: {} };
  });
  return () => {
    const markers = new Map<string, number>();
    const store = { get: (key: string) => markers.get(key), put: (key: string, value: number) => void markers.set(key, value), delete: (key: string) => void markers.delete(key), range: () => [] };
    let forwarded = 0;
    const nodes = specs.map((spec) => {
      let windows = TimeWindows.ofSizeAndGrace(spec.sizeMs, 3_600_000);
      if (spec.advanceMs !== undefined && spec.advanceMs < spec.sizeMs) windows = windows.advanceBy(spec.advanceMs);
      const node = new PreAggregator(spec, windows, 'markers');
      node.init({ getStateStore: () => store, count: () => undefined, forward: () => void forwarded++ });
      return node;
    });
    const us = cpuMicrosPerEvent(records.length, () => {
      for (let i = 0; i < records.length; i++) {
        const record = records[i]!;
        for (let j = 0; j < nodes.length; j++) if (specs[j]!.select(record.value)) nodes[j].process(record);
        if (i % 1250 === 1249) for (const node of nodes) node.beforeCommit();
      }
    });
    if (forwarded === 0) throw new Error('the pre-aggregators forwarded nothing');
    return us;
  };
}

async function deriveEnrichment(root: string): Promise<Run> {
  const { deriveEnrichment: derive } = await import(pathToFileURL(path.join(root, 'processors/Enrichment.ts')).href);
  const zones = ['America/New_York', 'Europe/Berlin', 'Asia/Kolkata', 'America/Sao_Paulo'];
  const users = Array.from({ length: 5000 }, (_, i) => ({ user_id: `user_${i}`, timezone: zones[i % 4], skill_level: (i % 10) / 10, average_accuracy: 0.6, created_at: `2025-06-${String(1 + (i % 28)).padStart(2, '0')}T00:00:00Z` }));
  const items = Array.from({ length: 500 }, (_, i) => ({ item_id: `item_${i}`, difficulty: (i % 10) / 10, average_accuracy: 0.5 + (i % 5) / 10 }));
  const events = Array.from({ length: 300_000 }, (_, i) => ({ kind: i % 10 < 6 ? 'attempt' : 'session', event_time: BASE + i * 5, payload: { time_taken_ms: 900 + (i % 30_000), correct: i % 3 > 0, items_attempted: 12, correct_count: 8 } }));
  return () => {
    let hours = 0;
    const us = cpuMicrosPerEvent(events.length, () => {
      for (let i = 0; i < events.length; i++) hours += derive(events[i], users[(i * 7919) % 5000], items[i % 500]).local_hour;
    });
    if (hours === 0) throw new Error('no local hours derived');
    return us;
  };
}

const setup = scenario === 'preaggregate' ? preaggregate : deriveEnrichment;
const a = await setup(path.resolve(treeA));
const b = await setup(path.resolve(treeB));
// Warm-up of each: JIT out of the measured rounds.
a();
b();
const ratios: number[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  // Alternate which goes first, so neither always runs after the other's garbage.
  let usA: number;
  let usB: number;
  if (round % 2 === 1) {
    usA = a();
    usB = b();
  } else {
    usB = b();
    usA = a();
  }
  ratios.push(usB / usA);
  console.log(JSON.stringify({ scenario, round, aMicrosPerEvent: Number(usA.toFixed(3)), bMicrosPerEvent: Number(usB.toFixed(3)) }));
}
console.log(JSON.stringify({ scenario, a: treeA, b: treeB, rounds: ROUNDS, cpuRatioBOverA: { median: Number(median(ratios).toFixed(3)), all: ratios.map((r) => Number(r.toFixed(3))) } }));

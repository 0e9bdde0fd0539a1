import fs from 'node:fs';
import path from 'node:path';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import type { LogRecord } from '../../log/Log.js';
import { readAll } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';
import { runCrashChild, uninterruptedAndKilledTwice } from '../support/crash-child.js';
import { INPUT_TOPIC, OUTPUT_TOPICS, type Reading } from './fixtures/crash-topology.js';

const RECORDS = 100_000;
const CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'crash-app.ts');

/** A deterministic stream: 400 users, amounts 1..50, event times mostly ascending with some disorder. */
async function writeInput(dir: string): Promise<void> {
  const log = await openEmbeddedLog({ dir: `${dir}/log` });
  await log.ensureTopic(INPUT_TOPIC, { partitions: 4 });
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const base = 1_700_000_000_000;
  for (let start = 0; start < RECORDS; start += 5000) {
    const batch = [];
    for (let n = start; n < start + 5000; n++) {
      const user = `user-${Math.floor(random() * 400)}`;
      const reading: Reading = { n, user, amount: 1 + Math.floor(random() * 50) };
      batch.push({ topic: INPUT_TOPIC, key: Buffer.from(user), value: Buffer.from(JSON.stringify(reading)), timestamp: base + n * 10 - Math.floor(random() * 3000) });
    }
    await log.produce(batch);
  }
  await log.close();
}

/** Runs the child; killAfterCommits > 0 SIGKILLs it after that many commits. Resolves true if it finished. */
const runChild = (dir: string, killAfterCommits = 0) => runCrashChild(CHILD, { CRASH_DATA_DIR: dir }, killAfterCommits);

interface RunResult {
  outputs: Record<string, LogRecord[]>;
  stores: unknown;
}

async function collect(dir: string): Promise<RunResult> {
  const log = await openEmbeddedLog({ dir: `${dir}/log` });
  const outputs: Record<string, LogRecord[]> = {};
  for (const topic of OUTPUT_TOPICS) outputs[topic] = await readAll(log, topic);
  await log.close();
  return { outputs, stores: JSON.parse(fs.readFileSync(`${dir}/stores.json`, 'utf8')) };
}

function sequencesByKey(records: LogRecord[]): Map<string, string[]> {
  const byKey = new Map<string, string[]>();
  for (const record of records) {
    const key = record.key!.toString();
    const values = byKey.get(key) ?? [];
    values.push(record.value!.toString());
    byKey.set(key, values);
  }
  return byKey;
}

function lastByKey(records: LogRecord[]): Map<string, string> {
  return new Map([...sequencesByKey(records)].map(([key, values]) => [key, values[values.length - 1]!]));
}

describe('exactly-once across SIGKILL (embedded log)', () => {
  let root: string;

  beforeAll(() => {
    root = tempDir('crash');
  });

  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('a run killed twice mid-stream and restarted ends with exactly the outputs and stores of an uninterrupted run', async () => {
    const { expected, actual } = await uninterruptedAndKilledTwice(root, { writeInput, runChild, collect, killAt: [5, 15] });
    expect(actual.stores).toEqual(expected.stores);
    // Every input produced its outputs exactly once.
    expect(expected.outputs['kept-readings']).toHaveLength(RECORDS - RECORDS / 5);
    expect(expected.outputs['bucket-sums-out']).toHaveLength(RECORDS);
    for (const topic of OUTPUT_TOPICS) expect(actual.outputs[topic]!.length).toBe(expected.outputs[topic]!.length);
    // Per key, sub-topology 0's outputs follow input order, so whole sequences must match.
    expect(sequencesByKey(actual.outputs['kept-readings']!)).toEqual(sequencesByKey(expected.outputs['kept-readings']!));
    expect(sequencesByKey(actual.outputs['window-counts-out']!)).toEqual(sequencesByKey(expected.outputs['window-counts-out']!));
    // Sub-topology 1 reads a repartition topic whose interleaving depends on commit timing:
    // the final aggregate per key must match.
    expect(lastByKey(actual.outputs['bucket-sums-out']!)).toEqual(lastByKey(expected.outputs['bucket-sums-out']!));
  }, 600_000);
});

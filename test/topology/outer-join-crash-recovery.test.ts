import fs from 'node:fs';
import path from 'node:path';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import type { LogRecord } from '../../log/Log.js';
import { readAll } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';
import { runCrashChild, uninterruptedAndKilledTwice } from '../support/crash-child.js';
import { writeOrdersAndPayments } from './fixtures/orders-and-payments.js';

const RECORDS = 20_000;
const CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'outer-join-crash-app.ts');

const writeInput = (dir: string) => writeOrdersAndPayments(dir, RECORDS);

const runChild = (dir: string, killAfterCommits = 0) => runCrashChild(CHILD, { CRASH_DATA_DIR: dir }, killAfterCommits);

interface RunResult {
  /** Per key, the pairs joined, sorted: which pairs joined, not the order the two topics interleaved in. */
  pairs: Map<string, string[]>;
  /** Every order that found no partner: emitted unjoined at once (late) or still waiting in the outer-join store. */
  unmatched: string[];
  emittedUnjoined: string[];
  waiting: string[];
}

async function collect(dir: string): Promise<RunResult> {
  const log = await openEmbeddedLog({ dir: `${dir}/log` });
  const outputs: LogRecord[] = await readAll(log, 'paid-out');
  await log.close();
  const { waiting } = JSON.parse(fs.readFileSync(`${dir}/stores.json`, 'utf8')) as { waiting: string[] };
  const pairs = new Map<string, string[]>();
  const emittedUnjoined: string[] = [];
  const partnered = new Set<string>();
  for (const record of outputs) {
    const key = record.key!.toString();
    const value = JSON.parse(record.value!.toString()) as { order: number; payment: number | null };
    if (value.payment === null) emittedUnjoined.push(`${key}@${record.timestamp}={"n":${value.order}}`);
    else {
      pairs.set(key, [...(pairs.get(key) ?? []), `${record.timestamp}:${record.value!.toString()}`]);
      partnered.add(`${key}:${value.order}`);
    }
  }
  for (const values of pairs.values()) values.sort();
  // An order emitted unjoined as late may still find a partner later (Kafka Streams does the same).
  const order = (entry: string) => `${entry.split('@')[0]}:${(JSON.parse(entry.split('=')[1]!) as { n: number }).n}`;
  const unmatched = [...emittedUnjoined, ...waiting].filter((entry) => !partnered.has(order(entry))).sort();
  return { pairs, unmatched, emittedUnjoined: emittedUnjoined.sort(), waiting };
}

describe('stream-stream leftJoin outer-join store: exactly-once across SIGKILL (embedded log)', () => {
  let root: string;

  beforeAll(() => {
    root = tempDir('outer-join-crash');
  });

  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('killed twice mid-stream and restarted, the pairs and the orders without a partner equal an uninterrupted run, each once', async () => {
    const { expected, actual } = await uninterruptedAndKilledTwice(root, { writeInput, runChild, collect });
    expect(expected.pairs.size).toBeGreaterThan(100);
    expect(expected.waiting.length).toBeGreaterThan(100);
    expect(actual.pairs).toEqual(expected.pairs);
    expect(actual.unmatched).toEqual(expected.unmatched);
    // Exactly once: no order emitted unjoined twice, none both waiting and emitted.
    expect(new Set(actual.emittedUnjoined).size).toBe(actual.emittedUnjoined.length);
    expect(actual.waiting.filter((entry) => actual.emittedUnjoined.includes(entry))).toEqual([]);
  }, 600_000);
});

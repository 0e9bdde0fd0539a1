import fs from 'node:fs';
import path from 'node:path';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import type { LogRecord } from '../../log/Log.js';
import { readAll } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';
import { runCrashChild, uninterruptedAndKilledTwice } from '../support/crash-child.js';
import { writeOrdersAndPayments } from './fixtures/orders-and-payments.js';

const RECORDS = 20_000;
const CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'join-crash-app.ts');

const writeInput = (dir: string) => writeOrdersAndPayments(dir, RECORDS);

const runChild = (dir: string, killAfterCommits = 0) => runCrashChild(CHILD, { CRASH_DATA_DIR: dir }, killAfterCommits);

/** Per key, the join results as a sorted list: which pairs joined, not the order the two topics interleaved in. */
function resultsByKey(records: LogRecord[]): Map<string, string[]> {
  const byKey = new Map<string, string[]>();
  for (const record of records) {
    const key = record.key!.toString();
    byKey.set(key, [...(byKey.get(key) ?? []), `${record.timestamp}:${record.value!.toString()}`]);
  }
  for (const values of byKey.values()) values.sort();
  return byKey;
}

async function collect(dir: string): Promise<{ outputs: LogRecord[]; stores: { orders: string[]; payments: string[] } }> {
  const log = await openEmbeddedLog({ dir: `${dir}/log` });
  const outputs = await readAll(log, 'paid-out');
  await log.close();
  return { outputs, stores: JSON.parse(fs.readFileSync(`${dir}/stores.json`, 'utf8')) as { orders: string[]; payments: string[] } };
}

describe('stream-stream join stores: exactly-once across SIGKILL (embedded log)', () => {
  let root: string;

  beforeAll(() => {
    root = tempDir('join-crash');
  });

  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('killed twice mid-stream and restarted, both join stores and the join results equal an uninterrupted run', async () => {
    const { expected, actual } = await uninterruptedAndKilledTwice(root, { writeInput, runChild, collect });
    // Pairs joined; nothing expired (a day of grace), so each store holds every record of its side.
    expect(expected.outputs.length).toBeGreaterThan(1000);
    expect(expected.stores.orders.length).toBe(RECORDS / 2);
    expect(expected.stores.payments.length).toBe(RECORDS / 2);
    expect(actual.stores).toEqual(expected.stores);
    expect(actual.outputs.length).toBe(expected.outputs.length);
    expect(resultsByKey(actual.outputs)).toEqual(resultsByKey(expected.outputs));
  }, 600_000);
});

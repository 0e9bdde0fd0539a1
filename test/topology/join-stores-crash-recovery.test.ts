import fs from 'node:fs';
import path from 'node:path';
import type { LogRecord } from '../../log/Log.js';
import { logModes, type LogMode } from '../processors/fixtures/log-modes.js';
import { runCrashChild, uninterruptedAndKilledTwice } from '../support/crash-child.js';
import { readAll } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';
import { produceOrdersAndPayments } from './fixtures/orders-and-payments.js';

const RECORDS = 10_000;
const CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'join-stores-crash-app.ts');
const OUTPUTS = ['paid-out', 'order-counts-out', 'order-windows-out'];

interface RunResult {
  /** Per user, the join's results sorted: which pairs joined, not the order the two topics interleaved in. */
  joined: Map<string, string[]>;
  /** Per user, the in-memory count's updates in order (one input topic, so the order is fixed). */
  counts: Map<string, string[]>;
  /** What the suppressed windowed count emitted: nothing, as no window closes during the run. */
  suppressedOut: number;
  stores: { orders: string[]; payments: string[]; waiting: string[]; orderCounts: string[]; suppressed: string[] };
}

function byKey(records: LogRecord[], sorted: boolean): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const record of records) {
    const key = record.key!.toString();
    out.set(key, [...(out.get(key) ?? []), `${record.timestamp}:${record.value!.toString()}`]);
  }
  if (sorted) for (const values of out.values()) values.sort();
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

async function collect(mode: LogMode, dir: string): Promise<RunResult> {
  const log = await mode.open(dir);
  try {
    return {
      joined: byKey(await readAll(log, 'paid-out'), true),
      counts: byKey(await readAll(log, 'order-counts-out'), false),
      suppressedOut: (await readAll(log, 'order-windows-out')).length,
      stores: JSON.parse(fs.readFileSync(`${dir}/stores.json`, 'utf8')) as RunResult['stores'],
    };
  } finally {
    await log.close();
  }
}

/**
 * Issue 19: every new store type survives SIGKILL mid-commit and the restore from its changelog,
 * in both log modes. This one: the stream-stream join's two JoinWindowStores, its OuterJoinStore
 * (orders waiting for a payment), an in-memory key-value store (nothing on disk: every start
 * restores it from the whole changelog) and a suppress buffer (every window's latest count, held
 * until its window closes), killed twice at points in the work and finished, against an
 * uninterrupted run: each pair joined once, each count update once, the same stores. (Session,
 * sliding-window and foreign-key join stores: stores-crash-recovery.test.ts.) The kafka mode runs
 * on this jest run's broker (TEST_KAFKA_BROKERS: global setup starts one when a selected suite
 * names it, as this line does).
 */
describe.each(logModes())('join and in-memory stores across SIGKILL ($name log)', (mode) => {
  let root: string;

  beforeAll(() => {
    root = tempDir(`join-stores-crash-${mode.name}`);
  });

  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  const runChild = (dir: string, killAfterRecords = 0) => runCrashChild(CHILD, { CRASH_DATA_DIR: dir, CRASH_LOG_MODE: mode.name }, 0, killAfterRecords);

  test('killed twice mid-stream and restarted, outputs and stores equal an uninterrupted run', async () => {
    const writeInput = async (dir: string) => {
      const log = await mode.open(dir);
      await produceOrdersAndPayments(log, RECORDS, OUTPUTS);
      await log.close();
    };
    const { expected, actual } = await uninterruptedAndKilledTwice(root, { writeInput, runChild, collect: (dir) => collect(mode, dir), killAt: [2_000, 6_000] });
    // The input gives every store something to hold: pairs, orders still waiting, 300 users counted.
    expect(expected.stores.waiting.length).toBeGreaterThan(100);
    expect(expected.stores.orders.length).toBe(RECORDS / 2);
    expect(expected.stores.orderCounts.length).toBe(300);
    expect(expected.stores.suppressed.length).toBeGreaterThan(1000);
    expect([expected.suppressedOut, actual.suppressedOut]).toEqual([0, 0]);
    expect([...expected.joined.values()].flat().filter((value) => !value.endsWith('"payment":null}')).length).toBeGreaterThan(100);
    expect(actual.joined).toEqual(expected.joined);
    expect(actual.counts).toEqual(expected.counts);
    expect(actual.stores).toEqual(expected.stores);
  }, 600_000);
});

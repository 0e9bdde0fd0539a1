import fs from 'node:fs';
import path from 'node:path';
import type { Log, LogRecord } from '../../log/Log.js';
import { logModes, type LogMode } from '../processors/fixtures/log-modes.js';
import { runCrashChild, uninterruptedAndKilledTwice } from '../support/crash-child.js';
import { readAll } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

const ACTIVITY = 8_000;
const CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'stores-crash-app.ts');
const PARTITIONS = 3;

/** 100 users' activity (one event every 10 ms, up to 3 s out of order), 10 plans, users changing plans, some plans deleted and re-created. */
async function writeInput(log: Log): Promise<void> {
  for (const topic of ['activity', 'users', 'plans', 'sessions-out', 'sliding-out', 'user-plans-out']) await log.ensureTopic(topic, { partitions: PARTITIONS });
  let seed = 23;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const base = 1_700_000_000_000;
  const json = (topic: string, key: string, value: unknown, timestamp: number) => ({ topic, key: Buffer.from(key), value: value === null ? null : Buffer.from(JSON.stringify(value)), timestamp });
  await log.produce(Array.from({ length: 10 }, (_, p) => json('plans', `plan-${p}`, { tier: `tier-${p % 3}` }, base - 1000 + p)));
  for (let start = 0; start < ACTIVITY; start += 2000) {
    const batch = [];
    for (let n = start; n < start + 2000; n++) {
      batch.push(json('activity', `user-${Math.floor(random() * 100)}`, { n }, base + n * 10 - Math.floor(random() * 3000)));
      if (n % 4 === 0) batch.push(json('users', `user-${Math.floor(random() * 100)}`, { plan: `plan-${Math.floor(random() * 10)}` }, base + n * 10));
      if (n % 200 === 0) batch.push(json('plans', `plan-${Math.floor(random() * 10)}`, random() < 0.3 ? null : { tier: `tier-${n}` }, base + n * 10));
    }
    await log.produce(batch);
  }
}

interface RunResult {
  sessions: Map<string, string[]>;
  sliding: Map<string, string[]>;
  /** The last join result per user (null: no row), which is what the result table holds. */
  lastUserPlans: Map<string, string | null>;
  stores: { sessions: string[]; sliding: string[]; userPlans: string[] };
}

function sequencesByKey(records: LogRecord[]): Map<string, string[]> {
  const byKey = new Map<string, string[]>();
  for (const record of records) {
    const key = record.key!.toString();
    byKey.set(key, [...(byKey.get(key) ?? []), `${record.timestamp}:${record.value === null ? null : record.value.toString()}`]);
  }
  return byKey;
}

async function collect(mode: LogMode, dir: string): Promise<RunResult> {
  const log = await mode.open(dir);
  try {
    const lastUserPlans = new Map<string, string | null>();
    for (const record of await readAll(log, 'user-plans-out')) lastUserPlans.set(record.key!.toString(), record.value === null ? null : (JSON.parse(record.value.toString()) as string));
    return {
      sessions: sequencesByKey(await readAll(log, 'sessions-out')),
      sliding: sequencesByKey(await readAll(log, 'sliding-out')),
      lastUserPlans: new Map([...lastUserPlans].sort()),
      stores: JSON.parse(fs.readFileSync(`${dir}/stores.json`, 'utf8')) as RunResult['stores'],
    };
  } finally {
    await log.close();
  }
}

/**
 * Issue 19: every new store type survives SIGKILL mid-commit and the restore from its changelog,
 * in both log modes. A session store, a sliding-window store and a foreign-key join's stores
 * (subscriptions, both table copies, the result) in one app, killed twice at points in the work
 * (after the commits that bring this child's written records past a number) and finished by a
 * third run, against an uninterrupted run of the same input: the same outputs per key (session
 * and sliding: the whole sequence, each update once; the join: the last result per user, as the
 * two tables' updates may interleave differently across its sub-topologies) and the same stores.
 * The kafka mode runs on this jest run's broker (TEST_KAFKA_BROKERS: global setup starts one when
 * a selected suite names it, as this line does).
 */
describe.each(logModes())('session, sliding-window and foreign-key join stores across SIGKILL ($name log)', (mode) => {
  let root: string;

  beforeAll(() => {
    root = tempDir(`stores-crash-${mode.name}`);
  });

  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  const runChild = (dir: string, killAfterRecords = 0) => runCrashChild(CHILD, { CRASH_DATA_DIR: dir, CRASH_LOG_MODE: mode.name }, 0, killAfterRecords);

  test('killed twice mid-stream and restarted, outputs and stores equal an uninterrupted run', async () => {
    const writeInputInto = async (dir: string) => {
      const log = await mode.open(dir);
      await writeInput(log);
      await log.close();
    };
    const { expected, actual } = await uninterruptedAndKilledTwice(root, { writeInput: writeInputInto, runChild, collect: (dir) => collect(mode, dir), killAt: [3_000, 15_000] });
    expect(expected.sessions.size).toBe(100);
    expect(expected.stores.userPlans.length).toBeGreaterThan(50);
    expect(actual.sessions).toEqual(expected.sessions);
    expect(actual.sliding).toEqual(expected.sliding);
    expect(actual.lastUserPlans).toEqual(expected.lastUserPlans);
    expect(actual.stores).toEqual(expected.stores);
  }, 600_000);
});

import fs from 'node:fs';
import path from 'node:path';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import type { LogRecord } from '../../log/Log.js';
import { readAll } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';
import { runCrashChild, uninterruptedAndKilledTwice } from '../support/crash-child.js';

const RECORDS = 20_000;
const CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'session-crash-app.ts');

/** 200 users, one event every 10 ms overall, up to 3 s out of order: sessions open, merge and close all the time. */
async function writeInput(dir: string): Promise<void> {
  const log = await openEmbeddedLog({ dir: `${dir}/log` });
  await log.ensureTopic('activity', { partitions: 4 });
  await log.ensureTopic('sessions-out', { partitions: 4 });
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const base = 1_700_000_000_000;
  for (let start = 0; start < RECORDS; start += 5000) {
    const batch = [];
    for (let n = start; n < start + 5000; n++) {
      const user = `user-${Math.floor(random() * 200)}`;
      batch.push({ topic: 'activity', key: Buffer.from(user), value: Buffer.from(JSON.stringify({ n })), timestamp: base + n * 10 - Math.floor(random() * 3000) });
    }
    await log.produce(batch);
  }
  await log.close();
}

const runChild = (dir: string, killAfterCommits = 0) => runCrashChild(CHILD, { CRASH_DATA_DIR: dir }, killAfterCommits);

function sequencesByKey(records: LogRecord[]): Map<string, string[]> {
  const byKey = new Map<string, string[]>();
  for (const record of records) {
    const key = record.key!.toString();
    byKey.set(key, [...(byKey.get(key) ?? []), `${record.timestamp}:${record.value!.toString()}`]);
  }
  return byKey;
}

async function collect(dir: string): Promise<{ outputs: LogRecord[]; sessions: string[] }> {
  const log = await openEmbeddedLog({ dir: `${dir}/log` });
  const outputs = await readAll(log, 'sessions-out');
  await log.close();
  return { outputs, sessions: JSON.parse(fs.readFileSync(`${dir}/stores.json`, 'utf8')) as string[] };
}

describe('session store: exactly-once across SIGKILL (embedded log)', () => {
  let root: string;

  beforeAll(() => {
    root = tempDir('session-crash');
  });

  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('killed twice mid-stream and restarted, the session store and its outputs equal an uninterrupted run', async () => {
    const { expected, actual } = await uninterruptedAndKilledTwice(root, { writeInput, runChild, collect });
    // Sessions merged: fewer sessions than records, and tombstones among the outputs.
    expect(expected.sessions.length).toBeGreaterThan(100);
    expect(expected.sessions.length).toBeLessThan(RECORDS / 2);
    expect(expected.outputs.some((r) => JSON.parse(r.value!.toString()).count === null)).toBe(true);
    expect(actual.sessions).toEqual(expected.sessions);
    expect(actual.outputs.length).toBe(expected.outputs.length);
    expect(sequencesByKey(actual.outputs)).toEqual(sequencesByKey(expected.outputs));
  }, 600_000);
});

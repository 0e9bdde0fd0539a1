import { afterEach, describe, expect, test } from '@jest/globals';
import { fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { CircuitBreaker } from '../../ingress/CircuitBreaker.js';
import { DiskSpool } from '../../ingress/DiskSpool.js';
import { LandingWriter } from '../../ingress/LandingWriter.js';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import { readTopic, waitFor } from './ingress-harness.js';
import { tempDir } from '../support/temp-dir.js';

const CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'late-landing-crash-child.ts');

/** Runs the child until its late produce has landed, then SIGKILLs it; resolves what it reported. */
function runUntilLandedThenKill(dir: string, records: unknown): Promise<{ spooled: boolean[] }> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [], {
      env: { ...process.env, CRASH_DATA_DIR: dir, CRASH_RECORDS: JSON.stringify(records) },
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let answered: { spooled: boolean[] } | undefined;
    let landed = false;
    const maybeKill = () => {
      if (answered && landed) child.kill('SIGKILL');
    };
    child.on('message', (message: { type: string; spooled?: boolean[] }) => {
      if (message.type === 'answered') answered = { spooled: message.spooled! };
      if (message.type === 'landed') landed = true;
      maybeKill();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && answered) resolve(answered);
      else reject(new Error(`crash child exited with code ${code} signal ${signal} (answered ${Boolean(answered)}, landed ${landed})`));
    });
  });
}

describe('SIGKILL after a timed-out write landed: the replayed spool does not write it again', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  test('each record once in the landing topic after the restart, per key in order', async () => {
    dir = tempDir('late-landing-crash');
    const now = Date.now();
    const requests = [
      [
        { key: 'k', value: `{"event_id":"a-${now}","id_assigned":true}`, timestamp: now },
        { key: 'j', value: `{"event_id":"b-${now}","id_assigned":true}`, timestamp: now },
      ],
      [{ key: 'k', value: `{"event_id":"c-${now}","id_assigned":true}`, timestamp: now + 1 }],
    ];
    const { spooled } = await runUntilLandedThenKill(dir, requests);
    // Both answered from the spool (the first timed out, the second queued behind it).
    expect(spooled).toEqual([true, true]);

    const log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
    const spool = await DiskSpool.open({ dir: path.join(dir, 'spool'), maxBytes: 16 * 1024 * 1024, segmentBytes: 1024 * 1024 });
    let restart = 0;
    const writer = new LandingWriter({
      log,
      spool,
      breaker: new CircuitBreaker({ threshold: 100, timeoutMs: 50, maxRequests: 1 }),
      logger: pino({ level: 'silent' }),
      produceTimeoutMs: 5_000,
      onLandedLate: (n, by) => {
        if (by === 'restart') restart += n;
      },
    });
    try {
      // The crash left the first request both in the log and in the spool.
      expect(spool.recovery.records).toBe(3);
      expect(await readTopic(log, 'events.raw')).toHaveLength(2);
      await waitFor(() => spool.isEmpty() && !writer.isDraining, 20_000, 'recovered spool drained');
      expect(restart).toBe(2);
      const landed = await readTopic(log, 'events.raw');
      const values = landed.map((r) => r.value!.toString());
      expect(values.sort()).toEqual(requests.flat().map((r) => r.value).sort());
      expect(landed.filter((r) => r.key!.toString() === 'k').map((r) => r.value!.toString())).toEqual([requests[0]![0]!.value, requests[1]![0]!.value]);
    } finally {
      await writer.stop();
      await spool.close();
      await log.close();
    }
  }, 60_000);
});

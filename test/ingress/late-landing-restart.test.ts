import { afterEach, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { CircuitBreaker } from '../../ingress/CircuitBreaker.js';
import { DiskSpool } from '../../ingress/DiskSpool.js';
import { LandingWriter } from '../../ingress/LandingWriter.js';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import type { Log, LogRecord, ProducerRecord, RecordMetadata } from '../../log/Log.js';
import { FaultyLog } from './FaultyLog.js';
import { readTopic, waitFor } from './ingress-harness.js';
import { tempDir } from '../support/temp-dir.js';

const TOPIC = 'events.raw';

/** A real log whose first produce lands only when the test releases it (after the writer's timeout). */
class HeldLog extends FaultyLog {
  hold = true;
  landedLate = 0;
  private release: (() => void) | null = null;
  private held: Promise<void> | null = null;
  override async produce(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    if (this.hold) {
      this.hold = false;
      this.held = new Promise<void>((resolve) => (this.release = resolve));
      await this.held;
      const metadata = await super.produce(records);
      this.landedLate++;
      return metadata;
    }
    return super.produce(records);
  }
  land(): void {
    this.release?.();
  }
}

/** A real log whose first `failures` listTopics calls fail, as a broker still down at start would. */
class SlowStartLog extends FaultyLog {
  failures = 2;
  override listTopics(): Promise<string[]> {
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(new Error('broker unreachable (injected fault)'));
    }
    return super.listTopics();
  }
}

function record(key: string, seq: number): ProducerRecord {
  return { topic: TOPIC, key: Buffer.from(key), value: Buffer.from(`{"event_id":"${key}-${seq}","id_assigned":true}`), timestamp: Date.now() + seq };
}

const values = (records: LogRecord[]) => records.map((x) => x.value!.toString());

describe('a spool replayed after a crash does not write again what had landed', () => {
  let dir: string | undefined;
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function openLog(): Promise<Log> {
    const log = await openEmbeddedLog({ dir: path.join(dir!, 'log') });
    await log.ensureTopic(TOPIC, { partitions: 3 });
    closers.push(() => log.close());
    return log;
  }
  async function openSpool(): Promise<DiskSpool> {
    return DiskSpool.open({ dir: path.join(dir!, 'spool'), maxBytes: 16 * 1024 * 1024, segmentBytes: 1024 * 1024 });
  }
  function writer(log: Log, spool: DiskSpool, checkLandedOnRecovery?: boolean) {
    const counts = { restart: 0, drained: 0 };
    const w = new LandingWriter({
      log,
      spool,
      breaker: new CircuitBreaker({ threshold: 100, timeoutMs: 50, maxRequests: 1 }),
      logger: pino({ level: 'silent' }),
      produceTimeoutMs: 30,
      checkLandedOnRecovery,
      onLandedLate: (n, by) => {
        if (by === 'restart') counts.restart += n;
      },
      onDrained: (n) => (counts.drained += n),
    });
    closers.push(async () => {
      await w.stop();
      await spool.close();
    });
    return { w, counts };
  }

  /**
   * The state a SIGKILL leaves when a write timed out, was spooled (2xx), and its produce then
   * landed before the process died: the spool on disk still holds it, and so does the log.
   */
  async function crashAfterLateLanding(): Promise<{ log: Log; written: string[] }> {
    const log = await openLog();
    const held = new HeldLog(log);
    const spool = await openSpool();
    const { w } = writer(held, spool);
    const a = [record('k', 1), record('j', 2)];
    const b = [record('k', 3)];
    expect((await w.write(a)).spooled).toBe(true);
    expect((await w.write(b)).spooled).toBe(true);
    // The process "dies" with both entries in the spool (stop() does not wait for the late produce) ...
    await w.stop();
    await spool.close();
    // ... just after the late produce landed.
    held.land();
    await waitFor(() => held.landedLate === 1, 10_000, 'the late produce to land');
    closers.splice(closers.length - 1, 1);
    return { log, written: values([...a, ...b] as unknown as LogRecord[]) };
  }

  test('the recovered spool is checked against the landing topic: the records that landed before the crash are not sent again', async () => {
    dir = tempDir('late-landing-restart');
    const { log, written } = await crashAfterLateLanding();
    const spool = await openSpool();
    expect(spool.recovery.records).toBe(3);
    const { w, counts } = writer(log, spool);
    await waitFor(() => spool.isEmpty() && !w.isDraining, 10_000, 'recovered spool drained');
    expect(counts.restart).toBe(2);
    expect(counts.drained).toBe(3);
    const landed = await readTopic(log, TOPIC);
    expect(values(landed).sort()).toEqual([...written].sort());
    // Per key in order: k's first record (landed before the crash) before its second (drained after).
    expect(values(landed.filter((r) => r.key!.toString() === 'k'))).toEqual([written[0], written[2]]);
  });

  test('a log that cannot be read at first: the check is retried before anything is sent, then finds the copies', async () => {
    dir = tempDir('late-landing-restart');
    const { log, written } = await crashAfterLateLanding();
    const slow = new SlowStartLog(log);
    const spool = await openSpool();
    const { w, counts } = writer(slow, spool);
    await waitFor(() => spool.isEmpty() && !w.isDraining, 20_000, 'recovered spool drained');
    expect(slow.failures).toBe(0);
    expect(counts.restart).toBe(2);
    expect(values(await readTopic(log, TOPIC)).sort()).toEqual([...written].sort());
  });

  test('without the check (checkLandedOnRecovery: false) they land twice: at-least-once across a crash', async () => {
    dir = tempDir('late-landing-restart');
    const { log, written } = await crashAfterLateLanding();
    const spool = await openSpool();
    const { w, counts } = writer(log, spool, false);
    await waitFor(() => spool.isEmpty() && !w.isDraining, 10_000, 'recovered spool drained');
    expect(counts.restart).toBe(0);
    expect(values(await readTopic(log, TOPIC)).sort()).toEqual([...written, written[0], written[1]].sort());
  });

  test('a drain batch that landed but was not acknowledged before the crash is not sent again; what was not in it is', async () => {
    dir = tempDir('late-landing-restart');
    const log = await openLog();
    let spool = await openSpool();
    const entries = [[record('a', 1), record('b', 2)], [record('a', 3)], [record('c', 4)]];
    for (const entry of entries) await spool.append(entry);
    // The drainer's batch (the first two entries) landed; the crash came before spool.ack.
    await log.produce([...entries[0]!, ...entries[1]!]);
    await spool.close();

    spool = await openSpool();
    const { w, counts } = writer(log, spool);
    await waitFor(() => spool.isEmpty() && !w.isDraining, 10_000, 'recovered spool drained');
    expect(counts.restart).toBe(3);
    const landed = values(await readTopic(log, TOPIC));
    expect(landed.sort()).toEqual(values(entries.flat() as unknown as LogRecord[]).sort());
  });
});

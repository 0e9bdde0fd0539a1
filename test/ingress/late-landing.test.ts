import { afterEach, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { CircuitBreaker } from '../../ingress/CircuitBreaker.js';
import { DiskSpool } from '../../ingress/DiskSpool.js';
import { LandingWriter } from '../../ingress/LandingWriter.js';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import type { LogRecord, ProducerRecord, RecordMetadata } from '../../log/Log.js';
import { FaultyLog } from './FaultyLog.js';
import { readTopic, waitFor } from './ingress-harness.js';
import { tempDir } from '../support/temp-dir.js';

const TOPIC = 'events.raw';

/**
 * A real log whose next produce calls can be made late: `plan` decides per call whether it
 * answers at once, lands after `lateMs` (after the writer's timeout), or fails after `lateMs`
 * without landing. Everything lands in the real embedded log.
 */
class LateLog extends FaultyLog {
  plan: (call: number, records: ProducerRecord[]) => 'now' | 'late-land' | 'late-fail' = () => 'now';
  lateMs = 150;
  calls = 0;
  lateLanded = 0;
  lateFailed = 0;
  private readonly waiting = new Set<(end: 'cancel' | 'now') => void>();
  override async produce(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    const what = this.plan(++this.calls, records);
    if (what === 'now') return super.produce(records);
    let cancelled = false;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(end);
        resolve();
      };
      const end = (how: 'cancel' | 'now') => {
        cancelled = how === 'cancel';
        done();
      };
      const timer = setTimeout(done, this.lateMs);
      this.waiting.add(end);
    });
    if (cancelled) throw new Error('test over: the late produce was cancelled');
    if (what === 'late-fail') {
      this.lateFailed++;
      throw new Error('NOT_ENOUGH_REPLICAS (injected, after the timeout)');
    }
    const metadata = await super.produce(records);
    this.lateLanded++;
    return metadata;
  }
  /** Ends every late produce at once, without landing it (the test is over). */
  cancelLate(): void {
    for (const end of [...this.waiting]) end('cancel');
  }
  /** Lets every late produce go on now (to land or fail as planned). */
  answerLate(): void {
    for (const end of [...this.waiting]) end('now');
  }
  get lateWaiting(): number {
    return this.waiting.size;
  }
}

interface Rig {
  log: LateLog;
  spool: DiskSpool;
  writer: LandingWriter;
  landedLate: number;
  drained: number;
  spooled: number;
  close(): Promise<void>;
}

async function rig(options: { produceTimeoutMs?: number; breakerThreshold?: number; lateProduceWaitMs?: number } = {}): Promise<Rig> {
  const dir = tempDir('late-landing');
  const embedded = await openEmbeddedLog({ dir: path.join(dir, 'log') });
  await embedded.ensureTopic(TOPIC, { partitions: 4 });
  const log = new LateLog(embedded);
  const spool = await DiskSpool.open({ dir: path.join(dir, 'spool'), maxBytes: 64 * 1024 * 1024, segmentBytes: 1024 * 1024 });
  const breaker = new CircuitBreaker({ threshold: options.breakerThreshold ?? 1000, timeoutMs: 50, maxRequests: 1 });
  const r: Rig = {
    log,
    spool,
    writer: undefined as unknown as LandingWriter,
    landedLate: 0,
    drained: 0,
    spooled: 0,
    close: async () => {
      log.cancelLate();
      await r.writer.stop();
      await spool.close();
      await embedded.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  r.writer = new LandingWriter({
    log,
    spool,
    breaker,
    logger: pino({ level: 'silent' }),
    produceTimeoutMs: options.produceTimeoutMs ?? 40,
    lateProduceWaitMs: options.lateProduceWaitMs,
    onLandedLate: (n) => (r.landedLate += n),
    onDrained: (n) => (r.drained += n),
    onSpooled: (n) => (r.spooled += n),
  });
  return r;
}

function record(key: string, seq: number): ProducerRecord {
  return { topic: TOPIC, key: Buffer.from(key), value: Buffer.from(`${key}#${seq}`), timestamp: 1_700_000_000_000 + seq };
}

const drained = (r: Rig) => () => r.spool.isEmpty() && !r.writer.isDraining;
const values = (records: LogRecord[]) => records.map((x) => x.value!.toString());

/** Each value once, and per key in the order written. */
function expectExactlyOnceInOrder(landed: LogRecord[], written: Map<string, string[]>): void {
  const all = values(landed);
  expect(all.length).toBe(new Set(all).size);
  expect(new Set(all)).toEqual(new Set([...written.values()].flat()));
  for (const [key, expected] of written) {
    expect(values(landed.filter((x) => x.key!.toString() === key))).toEqual(expected);
  }
}

describe('a landing write that times out but lands is not sent again', () => {
  let r: Rig | undefined;
  afterEach(async () => {
    await r?.close();
    r = undefined;
  });

  test('times out, lands late: spooled for the 2xx, acknowledged without a second send, order kept behind it', async () => {
    r = await rig();
    r.log.lateMs = 60_000;
    r.log.plan = (call) => (call === 1 ? 'late-land' : 'now');
    const first = await r.writer.write([record('k', 1), record('k', 2)]);
    expect(first.spooled).toBe(true);
    // Answered from the spool while the produce is still in flight: what comes next queues behind it.
    expect(r.log.lateWaiting).toBe(1);
    expect((await r.writer.write([record('k', 3)])).spooled).toBe(true);
    expect(r.writer.isDraining).toBe(true);
    // Now the late produce lands.
    r.log.answerLate();
    await waitFor(drained(r), 10_000, 'spool drained');

    expect(r.log.lateLanded).toBe(1);
    expect(r.landedLate).toBe(2);
    expect(r.drained).toBe(3);
    // One late produce and one drain of the record behind it: the two late records were never re-sent.
    expect(r.log.calls).toBe(2);
    expectExactlyOnceInOrder(await readTopic(r.log.inner, TOPIC), new Map([['k', ['k#1', 'k#2', 'k#3']]]));
    // The normal path again once the spool is empty.
    expect((await r.writer.write([record('k', 4)])).spooled).toBe(false);
  });

  test('times out and fails: the drain sends it exactly once, before what was written after it', async () => {
    r = await rig();
    r.log.lateMs = 60_000;
    r.log.plan = (call) => (call === 1 ? 'late-fail' : 'now');
    expect((await r.writer.write([record('k', 1)])).spooled).toBe(true);
    expect((await r.writer.write([record('k', 2)])).spooled).toBe(true);
    // Now the late produce fails.
    r.log.answerLate();
    await waitFor(drained(r), 10_000, 'spool drained');
    expect(r.log.lateFailed).toBe(1);
    expect(r.landedLate).toBe(0);
    expectExactlyOnceInOrder(await readTopic(r.log.inner, TOPIC), new Map([['k', ['k#1', 'k#2']]]));
  });

  test("a drain batch that times out but lands is acknowledged, not retried", async () => {
    r = await rig({ breakerThreshold: 1 });
    // The log down: three writes spooled.
    r.log.down = true;
    for (let i = 1; i <= 3; i++) expect((await r.writer.write([record('k', i)])).spooled).toBe(true);
    // Up, but every produce lands after the timeout.
    r.log.plan = () => 'late-land';
    r.log.down = false;
    await waitFor(drained(r), 20_000, 'spool drained');
    expect(r.landedLate).toBe(3);
    expectExactlyOnceInOrder(await readTopic(r.log.inner, TOPIC), new Map([['k', ['k#1', 'k#2', 'k#3']]]));
  });

  test('a mix under concurrency: 24 keys written one after another each, calls answering at once, late, or failing late', async () => {
    r = await rig({ produceTimeoutMs: 30 });
    r.log.lateMs = 80;
    // Deterministic mix: a third of the calls land late, a sixth fail late, the rest answer at once.
    r.log.plan = (call) => (call % 3 === 0 ? 'late-land' : call % 6 === 1 ? 'late-fail' : 'now');
    const written = new Map<string, string[]>();
    const rigNow = r;
    await Promise.all(
      Array.from({ length: 24 }, async (_, k) => {
        const key = `user-${k}`;
        const seqs: string[] = [];
        written.set(key, seqs);
        for (let seq = 0; seq < 15; seq++) {
          // A request is answered (2xx) before the client sends the next one for this key.
          const batch = seq % 4 === 0 ? [record(key, seq * 10), record(key, seq * 10 + 1)] : [record(key, seq * 10)];
          await rigNow.writer.write(batch);
          for (const x of batch) seqs.push(x.value!.toString());
        }
      }),
    );
    await waitFor(drained(r), 60_000, 'spool drained');
    expect(r.log.lateLanded).toBeGreaterThan(0);
    expect(r.log.lateFailed).toBeGreaterThan(0);
    expect(r.landedLate).toBeGreaterThan(0);
    expectExactlyOnceInOrder(await readTopic(r.log.inner, TOPIC), written);
  }, 90_000);

  test('a timed-out produce that never answers is waited for only lateProduceWaitMs, then its records are sent again', async () => {
    r = await rig({ lateProduceWaitMs: 1_000 });
    r.log.lateMs = 60_000;
    r.log.plan = (call) => (call === 1 ? 'late-land' : 'now');
    const started = process.hrtime.bigint();
    expect((await r.writer.write([record('k', 1)])).spooled).toBe(true);
    expect((await r.writer.write([record('k', 2)])).spooled).toBe(true);
    await waitFor(drained(r), 10_000, 'spool drained');
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(ms).toBeGreaterThanOrEqual(990);
    expect(ms).toBeLessThan(10_000);
    expect(r.landedLate).toBe(0);
    // The hung produce has not landed (it is cancelled when the test ends): one copy each, in order.
    expectExactlyOnceInOrder(await readTopic(r.log.inner, TOPIC), new Map([['k', ['k#1', 'k#2']]]));
  });

  test('stop() does not wait for a late produce; its entry stays in the spool', async () => {
    r = await rig({ lateProduceWaitMs: 600_000 });
    r.log.lateMs = 60_000;
    r.log.plan = (call) => (call === 1 ? 'late-land' : 'now');
    expect((await r.writer.write([record('k', 1)])).spooled).toBe(true);
    const started = process.hrtime.bigint();
    await r.writer.stop();
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(5_000);
    expect(r.spool.records).toBe(1);
    expect(await readTopic(r.log.inner, TOPIC)).toHaveLength(0);
  });
});

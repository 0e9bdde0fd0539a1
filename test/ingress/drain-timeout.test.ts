import { afterEach, describe, expect, test } from '@jest/globals';
import type { ProducerRecord, RecordMetadata } from '../../log/Log.js';
import { learningEventIdentity } from '../../processors/DedupeProcessor.js';
import { parseLandingEvent } from '../../processors/LandingEvent.js';
import { FaultyLog } from './FaultyLog.js';
import { type Harness, productEvent, startIngress, waitFor } from './ingress-harness.js';

/**
 * A landing produce that outlives its timeout and then succeeds (a broker answering late), while
 * the log reports healthy. Writes to other topics (the DLQ) answer at once, as they did in the
 * broker-kill run where a timed-out drain was parked in the DLQ as "refused by a healthy log".
 */
class LateLandingLog extends FaultyLog {
  hangLandingMs = 0;
  lateLandingProduces = 0;
  constructor(
    inner: FaultyLog['inner'],
    private readonly landingTopic: string,
  ) {
    super(inner);
  }
  override async produce(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    if (this.hangLandingMs > 0 && records.some((r) => r.topic === this.landingTopic)) {
      this.lateLandingProduces++;
      await new Promise((resolve) => setTimeout(resolve, this.hangLandingMs));
    }
    return super.produce(records);
  }
}

describe('spool drain when the log answers after the produce timeout', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  test('a timed-out drain is not retried while it may still land: it lands once, nothing goes to the DLQ', async () => {
    let log!: LateLandingLog;
    h = await startIngress({
      wrapLog: (inner) => (log = new LateLandingLog(inner, 'events.raw')),
      config: { landingTopic: 'events.raw', breaker: { threshold: 1, timeoutMs: 50, maxRequests: 1 }, produceTimeoutMs: 150 },
    });
    // The log down: the event is spooled (fsynced, 202).
    log.down = true;
    expect((await h.inject({ url: '/events', payload: productEvent(1) })).statusCode).toBe(202);
    expect(h.app.ingress.spool.records).toBe(1);

    // Up again but slow: every landing produce lands 400 ms later, after its 150 ms timeout.
    log.hangLandingMs = 400;
    log.down = false;
    await waitFor(() => h!.app.ingress.spool.isEmpty() && !h!.app.ingress.writer.isDraining, 30_000, 'spool drained');

    // The drain timed out once and waited for that produce's answer instead of sending the batch
    // again (it used to be retried every backoff, each copy landing late).
    expect(log.lateLandingProduces).toBe(1);
    expect(await h.records(h.config.dlqTopic)).toHaveLength(0);
    const landed = await h.records();
    expect(landed).toHaveLength(1);
    const identity = learningEventIdentity(parseLandingEvent(landed[0]!.key?.toString() ?? null, landed[0]!.value, landed[0]!.timestamp));
    expect(identity).toEqual({ type: expect.any(String), id: '6:user-1:evt-1' });
  }, 60_000);

  test('the late copy of a write that timed out is not sent again by the drain: an ingress-assigned id counts once', async () => {
    let log!: LateLandingLog;
    h = await startIngress({
      wrapLog: (inner) => (log = new LateLandingLog(inner, 'events.raw')),
      config: { landingTopic: 'events.raw', produceTimeoutMs: 100 },
    });
    // Lands 2 s late: long after its 100 ms timeout, and after the next request is answered.
    log.hangLandingMs = 2_000;
    // No event_id: the ingress assigns one, so the topology's dedupe could not hide a second copy.
    const { event_id: _omitted, ...withoutId } = productEvent(1);
    expect((await h.inject({ url: '/events', payload: withoutId })).statusCode).toBe(202);
    log.hangLandingMs = 0;
    expect((await h.inject({ url: '/events', payload: productEvent(2) })).statusCode).toBe(202);
    await waitFor(() => h!.app.ingress.spool.isEmpty() && !h!.app.ingress.writer.isDraining, 30_000, 'spool drained');
    const envelopes = await h.envelopes();
    expect(envelopes.map((e) => [e.id_assigned, (e.payload as { event_id?: string }).event_id])).toEqual([
      [true, undefined],
      [false, 'evt-2'],
    ]);
    expect(h.app.ingress.metrics.totals.spooled).toBe(2);
    expect(h.app.ingress.metrics.totals.drained).toBe(2);
  }, 60_000);
});

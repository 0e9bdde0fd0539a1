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

  test('a timed-out drain stays in the spool, is retried, and nothing goes to the DLQ; the copies dedupe to one event', async () => {
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
    // More timeouts than the poison threshold (5), with the log healthy throughout.
    await waitFor(() => log.lateLandingProduces >= 7, 60_000, 'seven timed-out drain attempts');
    expect(await log.isHealthy()).toBe(true);
    expect(h.app.ingress.spool.records).toBe(1);

    log.hangLandingMs = 0;
    await waitFor(() => h!.app.ingress.spool.isEmpty() && !h!.app.ingress.writer.isDraining, 30_000, 'spool drained');

    expect(await h.records(h.config.dlqTopic)).toHaveLength(0);
    const landed = await h.records();
    // The late answers landed too: several copies of one event, all with the client's id ...
    expect(landed.length).toBeGreaterThanOrEqual(2);
    const identities = landed.map((record) =>
      learningEventIdentity(parseLandingEvent(record.key?.toString() ?? null, record.value, record.timestamp)),
    );
    // ... which is the dedupe identity, so the topology keeps exactly one.
    expect(new Set(identities.map((id) => JSON.stringify(id))).size).toBe(1);
    expect(identities[0]).toEqual({ type: expect.any(String), id: '6:user-1:evt-1' });
  }, 90_000);
});

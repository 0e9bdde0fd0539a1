/**
 * Admission before fastify (ingress/IntakeAdmission.ts): over its limits the ingress refuses an
 * ingest request with 503 + Retry-After before reading it, in the route's own error shape; the
 * refused event is not counted or written, and once the overload is gone the same request is
 * accepted and lands once.
 */
import net from 'node:net';
import type { Log, ProducerRecord, RecordMetadata } from '../../log/Log.js';
import { readIngressConfig } from '../../ingress/IngressConfig.js';
import { FaultyLog } from './FaultyLog.js';
import { type Harness, productEvent, collectorEvent, startIngress } from './ingress-harness.js';

/** Holds landing writes until released, and says when `n` of them are waiting. */
class HeldLog extends FaultyLog {
  private held: Array<() => void> = [];
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  holding = false;

  constructor(inner: Log) {
    super(inner);
  }

  override async produce(records: ProducerRecord[]): Promise<RecordMetadata[]> {
    if (this.holding) {
      await new Promise<void>((resolve) => {
        this.held.push(resolve);
        for (const waiter of this.waiters.filter((w) => this.held.length >= w.n)) waiter.resolve();
      });
    }
    return super.produce(records);
  }

  waiting(n: number): Promise<void> {
    if (this.held.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  release(): void {
    this.holding = false;
    for (const resolve of this.held.splice(0)) resolve();
  }
}

const refusals = async (h: Harness) => (await h.registry.getSingleMetricAsString('streamline_ingress_admission_refusals_total')).split('\n').filter((line) => !line.startsWith('#')).join('\n');
const landedIds = async (h: Harness) => (await h.envelopes()).map((envelope) => envelope.event_id).sort();

describe('intake admission', () => {
  test('INGRESS_MAX_REQUESTS_IN_FLIGHT (default 512) and INGRESS_MAX_LOOP_DELAY (default off) are read at start; garbage stops it', () => {
    expect(readIngressConfig({})).toMatchObject({ maxRequestsInFlight: 512, maxLoopDelayMs: 0 });
    expect(readIngressConfig({ INGRESS_MAX_REQUESTS_IN_FLIGHT: '0', INGRESS_MAX_LOOP_DELAY: '100ms' })).toMatchObject({ maxRequestsInFlight: 0, maxLoopDelayMs: 100 });
    expect(() => readIngressConfig({ INGRESS_MAX_REQUESTS_IN_FLIGHT: 'lots' })).toThrow(/INGRESS_MAX_REQUESTS_IN_FLIGHT/);
    expect(() => readIngressConfig({ INGRESS_MAX_REQUESTS_IN_FLIGHT: '-1' })).toThrow(/INGRESS_MAX_REQUESTS_IN_FLIGHT/);
    expect(() => readIngressConfig({ INGRESS_MAX_LOOP_DELAY: 'soon' })).toThrow(/INGRESS_MAX_LOOP_DELAY/);
  });

  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  test('past INGRESS_MAX_REQUESTS_IN_FLIGHT requests are refused before they are read, in each seed\'s shape; a refused event is not counted and lands once when sent again', async () => {
    let log!: HeldLog;
    h = await startIngress({ config: { maxRequestsInFlight: 2, maxLoopDelayMs: 0 }, wrapLog: (inner) => (log = new HeldLog(inner)) });
    const harness = h;
    log.holding = true;
    const first = harness.inject({ url: '/events', payload: productEvent(1) });
    const second = harness.inject({ url: '/events', payload: productEvent(2) });
    await log.waiting(2);
    expect(harness.app.ingress.admission.requestsInFlight).toBe(2);

    const refused = await harness.inject({ url: '/events', payload: productEvent(3) });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json().error).toContain('INGRESS_MAX_REQUESTS_IN_FLIGHT');
    // The other seeds' routes are refused in their own error shapes.
    const collector = await harness.inject({ url: '/api/v1/collect', payload: [collectorEvent('c-1')] });
    expect(collector.statusCode).toBe(503);
    expect(collector.headers['retry-after']).toBe('1');
    expect(collector.json()).toMatchObject({ error: 'overloaded' });
    const seed000 = await harness.inject({ url: '/api/v1/events/attempt', payload: { user_id: 'u' } });
    expect(seed000.statusCode).toBe(503);
    expect(seed000.json()).toMatchObject({ success: false, retry_after: 1 });
    // Reads are not intake: they are answered whatever the load.
    expect((await harness.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);

    expect(await refusals(harness)).toContain('streamline_ingress_admission_refusals_total{reason="requests_in_flight"} 3');
    const { totals } = harness.app.ingress.metrics;
    expect(totals.received).toBe(2);
    expect(totals.rejected).toBe(3);

    log.release();
    expect((await first).statusCode).toBe(202);
    expect((await second).statusCode).toBe(202);
    expect(harness.app.ingress.admission.requestsInFlight).toBe(0);
    // Intake recovers: the refused event, sent again, is accepted.
    expect((await harness.inject({ url: '/events', payload: productEvent(3) })).statusCode).toBe(202);
    expect(totals.accepted).toBe(3);
    expect(await landedIds(harness)).toEqual(['evt-1', 'evt-2', 'evt-3']);
  });

  test('a pipelining client that drops its connection releases every request it had admitted (no count held for good)', async () => {
    let log!: HeldLog;
    h = await startIngress({ config: { maxRequestsInFlight: 3, maxLoopDelayMs: 0 }, wrapLog: (inner) => (log = new HeldLog(inner)) });
    const harness = h;
    log.holding = true;
    const { port } = new URL(harness.baseUrl);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const request = (i: number) => {
      const body = JSON.stringify(productEvent(i));
      return `POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    };
    // Three requests in one write: the server admits them before it answers the first.
    socket.write(request(1) + request(2) + request(3));
    await log.waiting(1);
    const admitted = harness.app.ingress.admission.requestsInFlight;
    expect(admitted).toBeGreaterThanOrEqual(1);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.destroy();
    await closed;
    log.release();
    // The server sees the close on its side a moment later: wait for the count (bounded), not a fixed time.
    const deadline = Date.now() + 10_000;
    while (harness.app.ingress.admission.requestsInFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    expect(harness.app.ingress.admission.requestsInFlight).toBe(0);
    // The bound is whole again: three requests at once are admitted, not refused.
    const answers = await Promise.all([4, 5, 6].map((i) => harness.inject({ url: '/events', payload: productEvent(i) })));
    expect(answers.map((answer) => answer.statusCode)).toEqual([202, 202, 202]);
  });

  const MAX_LOOP_DELAY_MS = 600;
  test('an event loop behind by more than INGRESS_MAX_LOOP_DELAY for two turns refuses what it reads; one pause refuses nothing; intake recovers', async () => {
    // A bound well above what a loaded machine's own lag reaches (CI at load 15-20 saw turns ~150 ms
    // late), and holds twice it: the test is about the holds, not about the machine's load.
    h = await startIngress({ config: { maxLoopDelayMs: MAX_LOOP_DELAY_MS, maxRequestsInFlight: 0 } });
    const { port } = new URL(h.baseUrl);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const exchange = rawExchange(socket);
    const request = (i: number) => {
      const body = JSON.stringify(productEvent(i));
      return `POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    };
    // Sent until accepted: on a busy machine the loop may be behind already, and after the holds
    // below intake recovers only once the 10 ms heartbeat has run on time twice. Retried like a
    // client, after a pause: a count of back-to-back attempts ran out on a fast machine (100
    // loopback round trips took less than two heartbeats; CI on Node 24, 2026-12-07).
    const untilAccepted = async (i: number) => {
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const answer = await exchange(request(i));
        if (answer.status === 202) return;
        expect(answer.status).toBe(503);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error(`evt-${i} was never accepted within 10 s`);
    };
    await untilAccepted(1);

    const hold = () => {
      const heldUntil = performance.now() + 2 * MAX_LOOP_DELAY_MS;
      while (performance.now() < heldUntil) {
        // Holds the event loop as a long synchronous task would: the overload under test.
      }
    };
    // One pause refuses nothing: the request it delayed (on the server's socket before the hold:
    // a connected socket writes at once) is read in the turn after it, which runs on time.
    const afterOnePause = exchange(request(2));
    hold();
    expect((await afterOnePause).status).toBe(202);
    // Behind two turns running: held again in the next turn, after its (late) heartbeat and
    // before the request is read.
    const answered = exchange(request(3));
    hold();
    setTimeout(hold, 0);
    const refused = await answered;
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.body).error).toContain('INGRESS_MAX_LOOP_DELAY');
    expect(await refusals(h)).toMatch(/reason="event_loop_delay"} [1-9]/);

    await untilAccepted(3);
    socket.destroy();
    expect(await landedIds(h)).toEqual(['evt-1', 'evt-2', 'evt-3']);
  });
});

/** One request at a time over a raw keep-alive socket: status, headers and body of each answer. */
function rawExchange(socket: net.Socket) {
  let buffered = '';
  let pending: ((answer: { status: number; headers: Record<string, string>; body: string }) => void) | undefined;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    const end = buffered.indexOf('\r\n\r\n');
    if (end < 0 || !pending) return;
    const [statusLine, ...lines] = buffered.slice(0, end).split('\r\n');
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length'] ?? 0);
    if (buffered.length < end + 4 + length) return;
    const body = buffered.slice(end + 4, end + 4 + length);
    buffered = buffered.slice(end + 4 + length);
    const resolve = pending;
    pending = undefined;
    resolve({ status: Number(statusLine!.split(' ')[1]), headers, body });
  });
  return (raw: string) =>
    new Promise<{ status: number; headers: Record<string, string>; body: string }>((resolve) => {
      pending = resolve;
      socket.write(raw);
    });
}

/**
 * The soak's load: POST /events/bulk of seed 004 product events (no event_id: the ingress assigns
 * one, so no body is a duplicate), in two shapes.
 * - open loop (`paced`): a request of `bulk` events is due every bulk/rate seconds whatever the
 *   service answers; a late answer does not delay the next request (no coordinated omission);
 *   latency counts from when the request was due. A 429/503 is counted as refused and not retried:
 *   the offered rate stays fixed.
 * - full capacity (`flatOut`): `connections` loops, each sends its next request when the previous one
 *   answered; a 429/503 is honoured: the loop waits Retry-After, then sends again.
 * Every counter is cumulative; the sampler takes differences per interval.
 */
import http from 'node:http';

export interface LoadCounters {
  requests: number;
  /** Events in 2xx-answered requests: what the service acknowledged. */
  ackedEvents: number;
  refused: number;
  /** Other statuses and connection errors. */
  errors: number;
  /** Requests due while `maxInFlight` were outstanding: not sent, counted here. */
  skipped: number;
  /** Latencies (ms) since the last takeLatencies(). */
  latencies: number[];
  /** The last error answer's text, for the report. */
  lastError?: string;
}

const channels = ['web', 'mobile', 'api', 'email', 'push'];
const names = ['product_view', 'add_to_cart', 'purchase', 'search'];

export class SoakLoad {
  readonly counters: LoadCounters = { requests: 0, ackedEvents: 0, refused: 0, errors: 0, skipped: 0, latencies: [] };
  private readonly agent: http.Agent;
  private readonly url: URL;
  private requestNumber = 0;
  private inFlight = 0;
  private stopped = false;

  constructor(
    base: string,
    private readonly bulk: number,
    private readonly maxInFlight = 128,
  ) {
    this.url = new URL('/events/bulk', base);
    if (this.url.hostname !== '127.0.0.1') throw new Error(`the soak only targets 127.0.0.1, not ${this.url.hostname}`);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: maxInFlight });
  }

  /** Seed 004 product events with fresh timestamps (the windows see live traffic), users spread over 50,000 ids. */
  private body(): Buffer {
    const n = this.requestNumber++;
    const timestamp = Date.now();
    const events: string[] = [];
    for (let i = 0; i < this.bulk; i++) {
      const k = n * this.bulk + i;
      events.push(
        `{"event_name":"${names[k % names.length]}","channel":"${channels[k % channels.length]}","campaign_id":"summer_sale_2024","user_id":"user_${(k * 7919) % 50_000}",` +
          `"timestamp":${timestamp},"tags":["electronics"],"metadata":{"product_id":"SKU-${k % 1000}","page_url":"/products/laptop"}}`,
      );
    }
    return Buffer.from(`[${events.join(',')}]`);
  }

  private post(): Promise<{ status: number; retryAfterSeconds: number; text: string }> {
    const body = this.body();
    return new Promise((resolve) => {
      const request = http.request(
        { agent: this.agent, host: this.url.hostname, port: this.url.port, method: 'POST', path: this.url.pathname, headers: { 'content-type': 'application/json', 'content-length': String(body.length) } },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, retryAfterSeconds: Number(response.headers['retry-after'] ?? 1) || 1, text: Buffer.concat(chunks).toString('utf8') }),
          );
          response.on('error', (error) => resolve({ status: 0, retryAfterSeconds: 1, text: error.message }));
        },
      );
      request.on('error', (error) => resolve({ status: 0, retryAfterSeconds: 1, text: error.message }));
      request.end(body);
    });
  }

  /** Sends one request, counts its answer; resolves with it. */
  private async sendCounted(dueAt: number): Promise<{ status: number; retryAfterSeconds: number }> {
    this.inFlight++;
    this.counters.requests++;
    const answer = await this.post();
    this.inFlight--;
    this.counters.latencies.push(performance.now() - dueAt);
    if (answer.status >= 200 && answer.status < 300) this.counters.ackedEvents += this.bulk;
    else if (answer.status === 429 || answer.status === 503) this.counters.refused++;
    else {
      this.counters.errors++;
      this.counters.lastError = `${answer.status}: ${answer.text.slice(0, 200)}`;
    }
    return answer;
  }

  /** Open loop at `eventsPerSecond` for `durationMs`; resolves when every sent request has answered. */
  async paced(eventsPerSecond: number, durationMs: number): Promise<void> {
    const intervalMs = (1000 * this.bulk) / eventsPerSecond;
    const start = performance.now();
    const pending = new Set<Promise<unknown>>();
    let sent = 0;
    while (!this.stopped && performance.now() - start < durationMs) {
      const due = Math.floor((performance.now() - start) / intervalMs) + 1;
      for (; sent < due; sent++) {
        const dueAt = start + sent * intervalMs;
        if (this.inFlight >= this.maxInFlight) {
          this.counters.skipped++;
          continue;
        }
        const request = this.sendCounted(dueAt);
        pending.add(request);
        void request.then(() => pending.delete(request));
      }
      const nextDue = start + sent * intervalMs;
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, nextDue - performance.now())));
    }
    await Promise.all(pending);
  }

  /** Closed loop with `connections` loops for `durationMs`, honouring Retry-After on 429/503. */
  async flatOut(connections: number, durationMs: number): Promise<void> {
    const end = performance.now() + durationMs;
    const loop = async (): Promise<void> => {
      while (!this.stopped && performance.now() < end) {
        const answer = await this.sendCounted(performance.now());
        if (answer.status === 429 || answer.status === 503 || answer.status === 0) {
          // Told to come back later (or the connection failed): wait as told, bounded by the phase's end.
          const waitMs = Math.min(answer.retryAfterSeconds * 1000, Math.max(0, end - performance.now()));
          await new Promise((resolve) => setTimeout(resolve, waitMs));
        }
      }
    };
    await Promise.all(Array.from({ length: connections }, loop));
  }

  /** Latencies since the previous call (the sampler's interval). */
  takeLatencies(): number[] {
    const taken = this.counters.latencies;
    this.counters.latencies = [];
    return taken;
  }

  stop(): void {
    this.stopped = true;
  }

  close(): void {
    this.agent.destroy();
  }
}

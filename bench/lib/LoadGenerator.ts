/**
 * A small HTTP load generator on node:http with keep-alive agents, loopback only, always
 * bounded in time. Two shapes:
 * - closed loop: N connections, each sends its next request when the previous one answered
 *   (measures capacity);
 * - open loop: requests are due at a fixed (or linearly ramping) rate whatever the service does,
 *   and latency counts from when a request was due, not when it was sent, so a stalled service
 *   cannot hide its stall (no coordinated omission).
 */
import http from 'node:http';
import { Percentiles } from './Percentiles.js';

export interface Payload {
  body: Buffer;
  /** Events the body carries (1 for a single event). */
  events: number;
}

export interface RequestSpec {
  path: string;
  headers: Record<string, string>;
  /** Called once per request; may return the same buffer, or one with fresh ids. */
  next(): Payload;
}

export interface LoadResult {
  requests: number;
  ok: number;
  errors: number;
  /** Requests the generator never sent because maxInFlight was reached (counted as errors). */
  dropped: number;
  statuses: Record<string, number>;
  seconds: number;
  requestsPerSecond: number;
  /** Events in 2xx-answered requests per second. */
  eventsPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  /**
   * Open loop only: where the latency was spent (ms, p99 and max of each part). `generator`: from
   * when a request was due to when this generator sent it (its own CPU; large means the run
   * measured the generator). `connection`: waiting for one of its connections (every one held by
   * an earlier request still unanswered: the service's slowness, queued on the client's side).
   * `service`: from a connection to the answer (socket buffers, the service's event loop, its work).
   */
  waitedMs?: Record<'generator' | 'connection' | 'service', { p99: number; max: number }>;
  errorRate: number;
}

export interface Stage {
  name: string;
  durationMs: number;
  fromRps: number;
  toRps: number;
}

const allowedHosts = new Set(['127.0.0.1', 'localhost', '::1']);

export class LoadGenerator {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(baseUrl: string, maxSockets: number) {
    const url = new URL(baseUrl);
    if (!allowedHosts.has(url.hostname)) throw new Error(`load generator only targets loopback, not ${url.hostname}`);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  close(): void {
    this.agent.destroy();
  }

  /**
   * One request; resolves with the status (0 on a connection error), the body when asked for, and
   * when it was given a connection (performance.now()).
   */
  send(method: string, path: string, headers: Record<string, string>, body?: Buffer, keepBody = false): Promise<{ status: number; body: string; connectedAt: number }> {
    return new Promise((resolve) => {
      let connectedAt = NaN;
      const request = http.request(
        { agent: this.agent, host: this.host, port: this.port, method, path, headers: body ? { ...headers, 'content-length': String(body.length) } : headers },
        (response) => {
          const chunks: Buffer[] = [];
          if (keepBody) response.on('data', (chunk: Buffer) => chunks.push(chunk));
          else response.resume();
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: keepBody ? Buffer.concat(chunks).toString('utf8') : '', connectedAt }));
          response.on('error', () => resolve({ status: 0, body: '', connectedAt }));
        },
      );
      request.once('socket', () => (connectedAt = performance.now()));
      request.on('error', () => resolve({ status: 0, body: '', connectedAt }));
      request.end(body);
    });
  }

  async getJson<T>(path: string): Promise<{ status: number; json: T | undefined }> {
    const { status, body } = await this.send('GET', path, {}, undefined, true);
    try {
      return { status, json: JSON.parse(body) as T };
    } catch {
      return { status, json: undefined };
    }
  }

  /** `connections` loops, each one request at a time, for warmupMs (discarded) then durationMs. */
  async closedLoop(spec: RequestSpec, connections: number, durationMs: number, warmupMs = 0): Promise<LoadResult> {
    if (warmupMs > 0) await this.runClosed(spec, connections, warmupMs, new Tally());
    const tally = new Tally();
    const started = performance.now();
    await this.runClosed(spec, connections, durationMs, tally);
    return tally.result((performance.now() - started) / 1000);
  }

  private async runClosed(spec: RequestSpec, connections: number, durationMs: number, tally: Tally): Promise<void> {
    const deadline = performance.now() + durationMs;
    const headers = { 'content-type': 'application/json', ...spec.headers };
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (performance.now() < deadline) {
          const payload = spec.next();
          const sentAt = performance.now();
          const { status } = await this.send('POST', spec.path, headers, payload.body);
          tally.record(status, performance.now() - sentAt, payload.events);
        }
      }),
    );
  }

  /**
   * Requests due at the stages' rates (linear within a stage). Returns the whole run and each
   * stage. Requests beyond maxInFlight outstanding are not sent and count as dropped errors.
   */
  async openLoop(spec: RequestSpec, stages: Stage[], maxInFlight: number): Promise<{ total: LoadResult; stages: Array<{ name: string } & LoadResult> }> {
    const headers = { 'content-type': 'application/json', ...spec.headers };
    const total = new Tally();
    const perStage: Array<{ name: string; seconds: number; tally: Tally }> = [];
    let inFlight = 0;
    let drained: (() => void) | undefined;
    const runStarted = performance.now();
    for (const stage of stages) {
      const tally = new Tally();
      const stageStart = performance.now();
      const seconds = stage.durationMs / 1000;
      const a = stage.fromRps;
      const slope = (stage.toRps - stage.fromRps) / seconds;
      const due = (t: number) => a * t + (slope * t * t) / 2; // requests due t seconds into the stage
      const timeOf = (n: number) => (slope === 0 ? n / a : (-a + Math.sqrt(a * a + 2 * slope * n)) / slope);
      const totalDue = Math.floor(due(seconds));
      let sent = 0;
      while (sent < totalDue) {
        const elapsed = Math.min((performance.now() - stageStart) / 1000, seconds);
        const target = Math.min(totalDue, Math.floor(due(elapsed)));
        for (; sent < target; sent++) {
          const dueAt = stageStart + timeOf(sent + 1) * 1000;
          if (inFlight >= maxInFlight) {
            tally.drop();
            total.drop();
            continue;
          }
          inFlight++;
          const payload = spec.next();
          const sentAt = performance.now();
          void this.send('POST', spec.path, headers, payload.body).then(({ status, connectedAt }) => {
            inFlight--;
            const answeredAt = performance.now();
            const latency = answeredAt - dueAt;
            tally.record(status, latency, payload.events);
            total.record(status, latency, payload.events);
            const connected = Number.isNaN(connectedAt) ? answeredAt : connectedAt;
            for (const t of [tally, total]) t.waited(sentAt - dueAt, connected - sentAt, answeredAt - connected);
            if (inFlight === 0) drained?.();
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      perStage.push({ name: stage.name, seconds, tally });
    }
    if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
    // Stage results are taken after every answer is in, so a stage's late answers count in it.
    return {
      total: total.result((performance.now() - runStarted) / 1000),
      stages: perStage.map(({ name, seconds, tally }) => ({ name, ...tally.result(seconds) })),
    };
  }
}

class Tally {
  private readonly latencies = new Percentiles();
  private readonly parts = { generator: new Percentiles(), connection: new Percentiles(), service: new Percentiles() };
  private ok = 0;
  private errors = 0;
  private dropped = 0;
  private events = 0;
  private readonly statuses: Record<string, number> = {};

  record(status: number, latencyMs: number, events: number): void {
    this.latencies.add(latencyMs);
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
    if (status >= 200 && status < 300) {
      this.ok++;
      this.events += events;
    } else {
      this.errors++;
    }
  }

  waited(generator: number, connection: number, service: number): void {
    this.parts.generator.add(generator);
    this.parts.connection.add(connection);
    this.parts.service.add(service);
  }

  drop(): void {
    this.dropped++;
    this.errors++;
  }

  result(seconds: number): LoadResult {
    const requests = this.ok + this.errors;
    return {
      requests,
      ok: this.ok,
      errors: this.errors,
      dropped: this.dropped,
      statuses: { ...this.statuses },
      seconds: round(seconds, 2),
      requestsPerSecond: Math.round(this.ok / seconds),
      eventsPerSecond: Math.round(this.events / seconds),
      latencyMs: this.latencies.summary(),
      ...(this.parts.generator.size > 0 ? { waitedMs: { generator: tail(this.parts.generator), connection: tail(this.parts.connection), service: tail(this.parts.service) } } : {}),
      errorRate: requests === 0 ? 0 : round(this.errors / requests, 4),
    };
  }
}

function tail(samples: Percentiles): { p99: number; max: number } {
  const { p99, max } = samples.summary();
  return { p99, max };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Counter, Gauge, type Registry } from 'prom-client';
import { HttpError } from './HttpError.js';
import type { IngressMetrics, RouteMetrics } from './IngressMetrics.js';

export interface IntakeAdmissionOptions {
  /** Ingest requests admitted and not yet answered at which more are refused; 0: no bound. */
  maxRequestsInFlight: number;
  /** How far behind the HTTP thread's event loop may run, two turns in a row, before intake is refused; 0: no bound. */
  maxLoopDelayMs: number;
  retryAfterSeconds: number;
  metrics: IngressMetrics;
  registry: Registry;
}

/** Why a request was refused at admission (the label of streamline_ingress_admission_refusals_total). */
export type AdmissionReason = 'requests_in_flight' | 'event_loop_delay' | 'topology_backlog' | 'memory_budget';

/** Something outside the ingress that refuses intake while it holds (the topology's backlog, the memory budget). */
export interface IntakePressure {
  reason: AdmissionReason;
  /** The refusal's message while intake is to be refused; undefined while it is not. */
  refusal(): string | undefined;
  /** Retry-After of its refusals; the ingress's (INGRESS_RETRY_AFTER_SECONDS) when absent. */
  readonly retryAfterSeconds?: number;
}

/** Admitted requests of a connection not yet released (see IntakeAdmission's releaseResponse). */
const ADMITTED = Symbol('admittedRequests');
type CountedSocket = Socket & { [ADMITTED]?: number };

type RenderError = (error: HttpError) => unknown;

/** An ingest route family (one adapter): its error shape and its counters. */
interface Claim {
  render: RenderError;
  rejected: ReturnType<RouteMetrics['rejected']>;
  /** Prebuilt 503 answers by reason (the last message of each): the refused path allocates nothing but the response. */
  answers: Map<AdmissionReason, Answer>;
}

interface Answer {
  message: string;
  seconds: number;
  headers: Record<string, string | number>;
  body: Buffer;
}

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/** How often the heartbeat that measures the event loop's delay runs. */
const BEAT_MS = 10;

/**
 * Admission for the ingest routes, decided before fastify sees the request (issue 13: seed 004's
 * spike must be refused at once, never queued for seconds). Under a spike the requests wait where
 * the service cannot see them: in the client's connection queue while every connection holds a
 * request waiting for the log, and in the socket buffers while the HTTP thread's event loop is
 * busy. So intake is refused with 503 + Retry-After, before the body is read, parsed or
 * validated, when
 * - INGRESS_MAX_REQUESTS_IN_FLIGHT admitted ingest requests are not answered yet (they wait for the log:
 *   more would only wait longer and hold the clients' connections), or
 * - the event loop has been behind by more than INGRESS_MAX_LOOP_DELAY for two turns running (a
 *   10 ms heartbeat ran that late twice, or once and the current turn has run that long): the
 *   thread cannot keep up, whatever it reads now has already waited, and cheap refusals let it
 *   catch up, or
 * - an intake pressure (the topology's backlog, the memory budget: app/IntakePressureHook.ts) says so.
 * A refusal is a prebuilt answer in the route's own error shape, written straight to the socket:
 * ~2x cheaper than fastify's error path, which cost as much as accepting the event. Nothing is
 * lost: a refused request was never read, and the client is told to send it again.
 */
export class IntakeAdmission {
  private inFlight = 0;
  private lastBeat = performance.now();
  /** How late the last heartbeat ran: the loop was away that long, so what it reads now has waited that long. */
  private lastLateMs = 0;
  /** How late the heartbeat before it ran. */
  private previousLateMs = 0;
  private beat: NodeJS.Timeout | undefined;
  private closing = false;
  private readonly exact = new Map<string, Claim>();
  /** Parametric routes (/api/v1/events/:type): the path before the parameter, one segment after it. */
  private readonly prefixes: Array<{ prefix: string; claim: Claim }> = [];
  private readonly pressures: IntakePressure[] = [];
  private readonly refusals: Counter<'reason'>;
  private readonly refusedBy: Record<AdmissionReason, Counter.Internal>;
  private readonly inFlightMessage: string;
  private readonly loopDelayMessage: string;
  /**
   * Releases an admitted request once: when its response closes, or when its connection closes
   * first. A pipelining client that drops its connection leaves queued responses that never emit
   * 'close' (Node 20), which would hold their count for good and, past the bound, refuse all intake.
   * Each connection counts what it holds; shared functions (`this` = the response / the socket)
   * keep the admitted path free of a closure per request.
   */
  private readonly releaseResponse: (this: ServerResponse) => void;
  private readonly releaseConnection: (this: CountedSocket) => void;

  constructor(private readonly options: IntakeAdmissionOptions) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the release functions' own `this` is the response or the socket
    const admission = this;
    this.releaseResponse = function (this: ServerResponse) {
      const socket = this.req.socket as CountedSocket;
      const held = socket[ADMITTED] ?? 0;
      if (held > 0) {
        socket[ADMITTED] = held - 1;
        admission.inFlight--;
      }
    };
    this.releaseConnection = function (this: CountedSocket) {
      admission.inFlight -= this[ADMITTED] ?? 0;
      this[ADMITTED] = 0;
    };
    this.inFlightMessage = `the ingress is answering ${options.maxRequestsInFlight} requests already (INGRESS_MAX_REQUESTS_IN_FLIGHT); retry later`;
    this.loopDelayMessage = `the ingress is more than ${options.maxLoopDelayMs} ms behind (INGRESS_MAX_LOOP_DELAY); retry later`;
    const registers = [options.registry];
    this.refusals = new Counter({
      name: 'streamline_ingress_admission_refusals_total',
      help: 'Ingest requests refused with 503 + Retry-After before they were read, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.refusedBy = {
      requests_in_flight: this.refusals.labels('requests_in_flight'),
      event_loop_delay: this.refusals.labels('event_loop_delay'),
      topology_backlog: this.refusals.labels('topology_backlog'),
      memory_budget: this.refusals.labels('memory_budget'),
    };
    const inFlight = () => this.inFlight;
    new Gauge({
      name: 'streamline_ingress_requests_in_flight',
      help: 'Ingest requests admitted and not yet answered (what INGRESS_MAX_REQUESTS_IN_FLIGHT bounds)',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  /** Refuses intake while `pressure` says so (checked per ingest request: keep refusal() cheap). */
  addPressure(pressure: IntakePressure): void {
    if (!this.pressures.includes(pressure)) this.pressures.push(pressure);
  }

  /**
   * An ingest route: its POSTs go through admission, refused in `render`'s shape. Called for
   * each route of an ingest scope (its onRoute hook).
   */
  claim(method: string | string[], url: string, route: RouteMetrics, render: RenderError): void {
    if (!(Array.isArray(method) ? method : [method]).includes('POST')) return;
    const claim: Claim = { render, rejected: route.rejected('overloaded'), answers: new Map() };
    const param = url.indexOf('/:');
    if (param < 0) this.exact.set(url, claim);
    else this.prefixes.push({ prefix: url.slice(0, param + 1), claim });
  }

  /**
   * Puts admission in front of every 'request' listener of the server (fastify's handler):
   * a refused request never reaches them.
   */
  install(server: {
    listening: boolean;
    listeners(event: 'request'): unknown[];
    removeAllListeners(event: 'request'): unknown;
    on(event: 'request', listener: RequestListener): unknown;
    once(event: 'listening', listener: () => void): unknown;
  }): void {
    // The heartbeat starts with the listener: the synchronous start-up before it is no delay a request waited behind.
    if (server.listening) this.startHeartbeat();
    else server.once('listening', () => this.startHeartbeat());
    const handlers = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    const serve: RequestListener =
      handlers.length === 1
        ? handlers[0]!
        : (request, response) => {
            for (const handler of handlers) handler.call(server, request, response);
          };
    server.on('request', (request, response) => {
      if (!this.refused(request, response)) serve.call(server, request, response);
    });
  }

  private startHeartbeat(): void {
    if (this.options.maxLoopDelayMs <= 0 || this.beat || this.closing) return;
    this.lastBeat = performance.now();
    this.beat = setInterval(() => {
      const now = performance.now();
      this.previousLateMs = this.lastLateMs;
      this.lastLateMs = now - this.lastBeat - BEAT_MS;
      this.lastBeat = now;
    }, BEAT_MS).unref();
  }

  /** From shutdown on, every request goes to fastify (which answers 503 and closes the connection). */
  close(): void {
    this.closing = true;
    clearInterval(this.beat);
  }

  /** Admits the request (counting it until its response or its connection closes) or answers it 503 + Retry-After. */
  refused(request: IncomingMessage, response: ServerResponse): boolean {
    if (request.method !== 'POST' || this.closing) return false;
    const claim = this.claimOf(request.url ?? '');
    if (!claim) return false;
    const { maxRequestsInFlight, maxLoopDelayMs } = this.options;
    let reason: AdmissionReason | undefined;
    let message: string | undefined;
    let seconds = this.options.retryAfterSeconds;
    if (maxRequestsInFlight > 0 && this.inFlight >= maxRequestsInFlight) {
      reason = 'requests_in_flight';
      message = this.inFlightMessage;
    } else if (this.beat && this.lastLateMs > maxLoopDelayMs && (this.previousLateMs > maxLoopDelayMs || performance.now() - this.lastBeat - BEAT_MS > maxLoopDelayMs)) {
      // Behind for two turns running (the last two heartbeats came late, or the last one did and
      // this turn has run that long too). One pause alone (a collection, the process descheduled
      // once) refuses nothing: the requests it delayed are answered in the turn after it.
      reason = 'event_loop_delay';
      message = this.loopDelayMessage;
    } else {
      for (const pressure of this.pressures) {
        message = pressure.refusal();
        if (message !== undefined) {
          reason = pressure.reason;
          seconds = pressure.retryAfterSeconds ?? seconds;
          break;
        }
      }
    }
    if (reason === undefined || message === undefined) {
      this.inFlight++;
      const socket = request.socket as CountedSocket;
      const held = socket[ADMITTED];
      if (held === undefined) socket.once('close', this.releaseConnection);
      socket[ADMITTED] = (held ?? 0) + 1;
      response.once('close', this.releaseResponse);
      return false;
    }
    const answer = this.answer(claim, reason, message, seconds);
    response.writeHead(503, answer.headers);
    response.end(answer.body);
    this.refusedBy[reason].inc();
    claim.rejected.inc();
    const totals = this.options.metrics.totals;
    totals.rejected++;
    totals.requests++;
    return true;
  }

  private claimOf(url: string): Claim | undefined {
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const claim = this.exact.get(path);
    if (claim || this.prefixes.length === 0) return claim;
    for (const { prefix, claim } of this.prefixes) {
      if (path.length > prefix.length && path.startsWith(prefix) && !path.includes('/', prefix.length)) return claim;
    }
    return undefined;
  }

  private answer(claim: Claim, reason: AdmissionReason, message: string, seconds: number): Answer {
    let answer = claim.answers.get(reason);
    if (answer?.message !== message || answer.seconds !== seconds) {
      const body = Buffer.from(JSON.stringify(claim.render(new HttpError(503, message, 'overloaded', [], seconds))));
      answer = { message, seconds, headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length, 'retry-after': String(seconds) }, body };
      claim.answers.set(reason, answer);
    }
    return answer;
  }
}

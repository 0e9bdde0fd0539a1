import type { onRequestHookHandler } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { IntakePressure } from '../ingress/IntakeAdmission.js';
import type { ReadinessCheck } from '../ingress/routes/health-routes.js';
import { intakePressureHook } from './IntakePressureHook.js';

export interface MemoryPressureOptions {
  /** RSS at which intake is refused. */
  refuseAboveBytes: number;
  /** RSS below which intake is accepted again (hysteresis: no flapping at the line). */
  resumeBelowBytes: number;
  /** How often RSS is sampled. Default 250 ms. */
  sampleIntervalMs?: number;
  /** Seconds advertised in Retry-After. Default 1. */
  retryAfterSeconds?: number;
  registry?: Registry;
  /** The process's resident set; process.memoryUsage.rss by default (a test may pass its own). */
  readRss?: () => number;
  /**
   * Records accepted but not yet processed by the topology; undefined while not known (the log is
   * not open yet). Processing them takes memory that RSS does not show yet, so the check refuses
   * on RSS plus backlog x backlogRecordBytes: at full capacity a refusal at RSS alone let the
   * accepted backlog carry RSS ~14 % past the budget. A backlog of 0 is drained: memory that stays
   * resident after the work drained (V8 and malloc keep their pages) no longer holds intake
   * refused: it is accepted again up to limitBytes.
   */
  backlog?: () => number | undefined;
  /** Memory one backlog record takes while it is processed (config/MemoryPlan.ts). Default 0: RSS alone. */
  backlogRecordBytes?: number;
  /** The budget itself (MEMORY_LIMIT_MB): the line while retained memory is let in. Default refuseAboveBytes. */
  limitBytes?: number;
}

const REFUSAL = 'memory budget reached (MEMORY_LIMIT_MB); retry later';

/**
 * The enforcing half of the memory budget (app/MemoryBudget.ts): RSS is sampled on a timer, and
 * while it is over the budget the ingress refuses new requests with 503 + Retry-After, so intake
 * slows (clients back off, the pipeline drains, caches stay at their bounds) instead of memory
 * growing. Sampling keeps the per-request cost to reading a boolean; process.memoryUsage.rss()
 * reads /proc, too slow for every request.
 */
export class MemoryPressure implements IntakePressure {
  readonly reason = 'memory_budget' as const;
  private over = false;
  /** Released on drain with RSS still over resumeBelowBytes: the line is limitBytes until RSS falls under it. */
  private retained = false;
  private drainedSamples = 0;
  private rss = 0;
  /** rss plus the memory the accepted backlog is expected to take: what the lines are compared with. */
  private projected = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly readRss: () => number;
  private readonly refusals: Counter | undefined;
  readonly retryAfterSeconds: number;

  constructor(private readonly options: MemoryPressureOptions) {
    if (!(options.resumeBelowBytes <= options.refuseAboveBytes)) throw new RangeError('resumeBelowBytes must be <= refuseAboveBytes');
    this.readRss = options.readRss ?? (() => process.memoryUsage.rss());
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1;
    const registry = options.registry;
    if (registry) {
      const rss = () => this.rss;
      const projected = () => this.projected;
      const over = () => this.over;
      new Gauge({
        name: 'streamline_memory_rss_bytes',
        help: 'Resident set size of the process, as last sampled by the memory pressure check',
        registers: [registry],
        collect() {
          this.set(rss());
        },
      });
      new Gauge({
        name: 'streamline_memory_projected_bytes',
        help: 'RSS plus the memory the accepted, unprocessed backlog is expected to take: what the memory budget is checked against',
        registers: [registry],
        collect() {
          this.set(projected());
        },
      });
      new Gauge({ name: 'streamline_memory_limit_bytes', help: 'RSS above which the ingress refuses requests (MEMORY_LIMIT_MB)', registers: [registry] }).set(options.refuseAboveBytes);
      new Gauge({
        name: 'streamline_memory_pressure',
        help: '1 while RSS is over the memory budget and the ingress refuses requests',
        registers: [registry],
        collect() {
          this.set(over() ? 1 : 0);
        },
      });
      this.refusals = new Counter({ name: 'streamline_memory_pressure_refusals_total', help: 'Requests refused with 503 because RSS was over the memory budget', registers: [registry] });
    }
    this.sample();
  }

  /** Samples now and then every sampleIntervalMs, without holding the process open. */
  start(): this {
    if (!this.timer) {
      this.timer = setInterval(() => this.sample(), this.options.sampleIntervalMs ?? 250);
      this.timer.unref();
    }
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Reads RSS and updates the state. The lines are checked against RSS plus what the accepted
   * backlog will take once processed, so the refusal comes early enough for that work to fit. The
   * refusal exists to let the work in flight drain; once it has (two samples running), memory
   * still resident is retained, not growing, and refusing on it would shut intake at idle for
   * good. So it lets intake in again up to the budget itself.
   */
  sample(): void {
    this.rss = this.readRss();
    this.projected = this.rss + (this.options.backlog?.() ?? 0) * (this.options.backlogRecordBytes ?? 0);
    const { refuseAboveBytes, resumeBelowBytes } = this.options;
    const limit = Math.max(this.options.limitBytes ?? refuseAboveBytes, refuseAboveBytes);
    if (this.projected < resumeBelowBytes) this.retained = false;
    if (!this.over) {
      this.over = this.projected >= (this.retained ? limit : refuseAboveBytes);
      this.drainedSamples = 0;
      return;
    }
    this.drainedSamples = this.options.backlog?.() === 0 ? this.drainedSamples + 1 : 0;
    if (this.projected < resumeBelowBytes) this.over = false;
    else if (this.drainedSamples >= 2 && this.projected < limit) {
      this.over = false;
      this.retained = true;
    }
  }

  get refusing(): boolean {
    return this.over;
  }

  get rssBytes(): number {
    return this.rss;
  }

  /** For GET /ready: not ready while intake is refused, saying why (a balancer sends traffic elsewhere). */
  readinessCheck(): ReadinessCheck {
    const mb = (bytes: number) => Math.round(bytes / (1024 * 1024));
    return {
      name: 'memory',
      check: async () => !this.over,
      waitingFor: () =>
        this.over
          ? `memory under the budget: RSS ${mb(this.rss)} MB${this.projected > this.rss ? ` (${mb(this.projected)} MB with the accepted backlog)` : ''} is over ${mb(this.options.refuseAboveBytes)} MB${this.lineShare()}; intake answers 503 until it is under ${mb(this.options.resumeBelowBytes)} MB`
          : undefined,
    };
  }

  /** " (85% of MEMORY_LIMIT_MB)" when the budget itself is known. */
  private lineShare(): string {
    const limit = this.options.limitBytes;
    return limit ? ` (${Math.round((this.options.refuseAboveBytes / limit) * 100)}% of MEMORY_LIMIT_MB)` : '';
  }

  /** The public listener's hook (app/IntakePressureHook.ts): requests that bring data are refused while over the budget. */
  hook(): onRequestHookHandler {
    return intakePressureHook(this);
  }

  /** For the ingress's admission (IntakePressure): the refusal's message while over the budget. */
  refusal(): string | undefined {
    if (!this.over) return undefined;
    this.refusals?.inc();
    return REFUSAL;
  }
}

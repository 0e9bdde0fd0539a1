import type { onRequestHookHandler } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { IntakePressure } from '../ingress/IntakeAdmission.js';
import { groupLag } from '../log/GroupLag.js';
import type { Log, TopicPartition } from '../log/Log.js';
import { intakePressureHook } from './IntakePressureHook.js';
import type { ExplainedReadinessCheck } from './StartSequence.js';
import { type Env, readInteger } from '../config/index.js';

export interface TopologyBackpressureOptions {
  log: Log;
  /** The topology's consumer group (APPLICATION_ID). */
  groupId: string;
  landingTopic: string;
  /** Landing records not yet committed by the topology at which intake is refused. */
  maxLag: number;
  /** How often the lag is read. Default 250 ms. */
  sampleIntervalMs?: number;
  /**
   * While quiet (no intake since the last read, and that read found no backlog): the lag is read
   * every this many intervals only. Default 8 (2 s at 250 ms).
   */
  quietSampleEvery?: number;
  retryAfterSeconds?: number;
  registry?: Registry;
}

/** MAX_TOPOLOGY_LAG: events accepted but not yet processed at which intake is refused; 0 turns it off. */
export function readMaxTopologyLag(env: Env): number {
  return readInteger(env, 'MAX_TOPOLOGY_LAG', 20_000, 0, Number.MAX_SAFE_INTEGER);
}

/**
 * Backpressure a client can see (issue 13 part 3). The ingress is faster than the topology
 * behind it; without a bound, accepted events queue in the landing topic and the time from a 2xx
 * to a queryable aggregate grows without limit. The lag (landing records past the topology's
 * committed offsets) is read on a timer from the log, which every thread shares; above
 * MAX_TOPOLOGY_LAG the public listener refuses POST/PUT/PATCH with 503 + Retry-After (clients
 * back off, the topology catches up) and GET /ready says why; intake resumes below three quarters
 * of the bound (no flapping at the line; at half, a spike's backlog kept intake refused for seconds
 * after it ended: seed 004's 2k recovery phase was 100% 503). Nothing accepted is dropped: the
 * refusal comes before the body is read.
 */
export class TopologyBackpressure implements IntakePressure {
  readonly reason = 'topology_backlog' as const;
  private lag = 0;
  private over = false;
  /** The refusal's words while over the bound, built once per sample rather than per refused request. */
  private message: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;
  private partitions: TopicPartition[] | undefined;
  /** An intake request came (refusal() was asked) since the last read. */
  private intakeSinceSample = false;
  private quietTicks = 0;
  private readonly refusals: Counter | undefined;
  readonly retryAfterSeconds: number;
  private get resumeBelow(): number {
    return this.options.maxLag * 0.75;
  }

  constructor(private readonly options: TopologyBackpressureOptions) {
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1;
    const registry = options.registry;
    if (registry) {
      const read = () => this.lag;
      const over = () => this.over;
      new Gauge({
        name: 'streamline_topology_backlog_records',
        help: 'Landing records accepted but not yet committed by the topology (what MAX_TOPOLOGY_LAG bounds)',
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
      new Gauge({
        name: 'streamline_topology_backpressure',
        help: '1 while the topology is more than MAX_TOPOLOGY_LAG behind and the ingress refuses requests',
        registers: [registry],
        collect() {
          this.set(over() ? 1 : 0);
        },
      });
      this.refusals = new Counter({ name: 'streamline_topology_backpressure_refusals_total', help: 'Requests refused with 503 because the topology was too far behind', registers: [registry] });
    }
  }

  start(): this {
    this.timer ??= setInterval(() => this.tick(), this.options.sampleIntervalMs ?? 250).unref();
    return this;
  }

  /**
   * Each interval reads the lag (three messages to the log's thread), except while quiet: with
   * no backlog at the last read and no intake since, the backlog can only have grown through
   * another instance's ingress (Kafka mode), so it is read every quietSampleEvery intervals
   * (issue 21: four reads a second kept the idle HTTP and log threads allocating). The first
   * request after the quiet brings the next interval's read, as before.
   */
  private tick(): void {
    const quiet = !this.intakeSinceSample && this.lag === 0 && !this.over;
    if (quiet && ++this.quietTicks < (this.options.quietSampleEvery ?? 8)) return;
    this.quietTicks = 0;
    this.intakeSinceSample = false;
    void this.sample();
  }

  stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    return this.sampling ?? Promise.resolve();
  }

  /** Reads the lag now (one read at a time; a failed read keeps the last state: the log's health is /health's business). */
  sample(): Promise<void> {
    this.sampling ??= this.readLag()
      .then((lag) => {
        this.lag = lag;
        this.over = this.over ? lag > this.resumeBelow : lag > this.options.maxLag;
        this.message = this.over ? `the pipeline is ${lag} events behind (MAX_TOPOLOGY_LAG=${this.options.maxLag}); retry later` : undefined;
      })
      .catch(() => undefined)
      .finally(() => (this.sampling = undefined));
    return this.sampling;
  }

  private async readLag(): Promise<number> {
    const { log, landingTopic, groupId } = this.options;
    this.partitions ??= Array.from({ length: await log.partitionCount(landingTopic) }, (_, partition) => ({ topic: landingTopic, partition }));
    const partitions = this.partitions;
    let lag = 0;
    for (const partitionLag of (await groupLag(log, groupId, partitions)).values()) lag += partitionLag;
    return lag;
  }

  get backlog(): number {
    return this.lag;
  }

  get refusing(): boolean {
    return this.over;
  }

  /** For GET /ready: not ready while intake is refused, saying why. */
  readinessCheck(): ExplainedReadinessCheck {
    return {
      name: 'backpressure',
      check: async () => !this.over,
      waitingFor: () => (this.over ? `the topology to catch up: ${this.lag} events behind (MAX_TOPOLOGY_LAG=${this.options.maxLag}); intake answers 503 until it is under ${Math.floor(this.resumeBelow)}` : undefined),
    };
  }

  /** For the ingress's admission (IntakePressure): the refusal's message while over the bound. */
  refusal(): string | undefined {
    this.intakeSinceSample = true;
    if (this.message !== undefined) this.refusals?.inc();
    return this.message;
  }

  /** The public listener's hook (app/IntakePressureHook.ts): intake refused while over the bound; operators' /processor/ routes are not. */
  hook(): onRequestHookHandler {
    return intakePressureHook(this, (url) => url.startsWith('/processor/'));
  }
}

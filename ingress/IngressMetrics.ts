import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type RejectReason =
  | 'invalid_json'
  | 'validation'
  | 'too_large'
  | 'batch_too_large'
  | 'rate_limited'
  | 'overloaded'
  | 'spool_full'
  | 'unsupported'
  | 'internal'
  /** A string (or key) that is not well-formed UTF-16: a lone surrogate. */
  | 'malformed_text'
  /** Nested deeper than INGRESS_MAX_EVENT_DEPTH. */
  | 'too_deep'
  /** No valid ingest key (INGEST_API_KEYS). */
  | 'unauthorized';

/** Events per second over the last minute and latency samples for the seeds' JSON metrics. */
class RollingStats {
  private readonly buckets = new Float64Array(60);
  private bucketSecond = 0;
  private readonly samples = new Float64Array(2048);
  private sampleCount = 0;
  private sampleAt = 0;

  add(events: number, now = Date.now()): void {
    this.advance(now);
    this.buckets[this.bucketSecond % 60]! += events;
  }

  perSecond(now = Date.now()): number {
    this.advance(now);
    let sum = 0;
    // The current second is still filling: average over the 59 complete ones before it.
    for (let i = 1; i < 60; i++) sum += this.buckets[(this.bucketSecond - i + 60) % 60]!;
    return sum / 59;
  }

  latency(ms: number): void {
    this.samples[this.sampleAt] = ms;
    this.sampleAt = (this.sampleAt + 1) % this.samples.length;
    if (this.sampleCount < this.samples.length) this.sampleCount++;
  }

  latencySummary(): { avg: number; p99: number } {
    if (this.sampleCount === 0) return { avg: 0, p99: 0 };
    const sorted = Array.from(this.samples.subarray(0, this.sampleCount)).sort((a, b) => a - b);
    const avg = sorted.reduce((acc, value) => acc + value, 0) / sorted.length;
    const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
    return { avg: Math.round(avg * 100) / 100, p99: Math.round(p99 * 100) / 100 };
  }

  private advance(now: number): void {
    const second = Math.floor(now / 1000);
    if (this.bucketSecond === 0) this.bucketSecond = second;
    if (second - this.bucketSecond >= 60) {
      this.buckets.fill(0);
    } else {
      for (let s = this.bucketSecond + 1; s <= second; s++) this.buckets[s % 60] = 0;
    }
    if (second > this.bucketSecond) this.bucketSecond = second;
  }
}

/**
 * The ingress's metrics, registered in the registry the app passes in (prefix streamline_),
 * plus the plain totals the seeds' JSON metrics routes report.
 */
export class IngressMetrics {
  readonly received: Counter<'route'>;
  readonly accepted: Counter<'route' | 'path'>;
  readonly rejected: Counter<'route' | 'reason'>;
  readonly duplicates: Counter<'route'>;
  readonly rateLimited: Counter<'scope'>;
  readonly spooled: Counter;
  /** Spooled records found already landed (a timed-out write that landed late), so not sent again. */
  readonly landedLate: Counter;
  readonly drained: Counter;
  readonly dlq: Counter;
  readonly produceErrors: Counter;
  readonly requestDuration: Histogram<'route' | 'status_code'>;
  readonly stats = new RollingStats();
  readonly startedAt = Date.now();
  /** Totals for JSON metrics, kept as plain numbers so reading them costs nothing. */
  totals = {
    received: 0,
    accepted: 0,
    rejected: 0,
    duplicates: 0,
    /** Records (landing and DLQ) fsynced to the spool. */
    spooled: 0,
    /** Accepted landing events that went to the spool rather than the log. */
    spooledAccepted: 0,
    drained: 0,
    dlq: 0,
    /** Successful produce calls made for requests. */
    logWrites: 0,
    produceErrors: 0,
    requests: 0,
  };
  lastAcceptedAt: number | null = null;

  constructor(
    registry: Registry,
    gauges: { spoolBytes: () => number; spoolRecords: () => number; inFlightBytes: () => number; breakerOpen: () => number },
  ) {
    const registers = [registry];
    this.received = new Counter({ name: 'streamline_ingress_events_received_total', help: 'Events received, valid or not', labelNames: ['route'], registers });
    this.accepted = new Counter({
      name: 'streamline_ingress_events_accepted_total',
      help: 'Events accepted (path="log": acknowledged by the log; "spool": fsynced to the disk spool)',
      labelNames: ['route', 'path'],
      registers,
    });
    this.rejected = new Counter({ name: 'streamline_ingress_events_rejected_total', help: 'Events or requests rejected, by reason', labelNames: ['route', 'reason'], registers });
    this.duplicates = new Counter({ name: 'streamline_ingress_events_duplicate_total', help: 'Events answered as duplicates by the idempotency fast path', labelNames: ['route'], registers });
    this.rateLimited = new Counter({ name: 'streamline_ingress_rate_limited_total', help: 'Requests refused by a rate limit', labelNames: ['scope'], registers });
    this.spooled = new Counter({ name: 'streamline_ingress_events_spooled_total', help: 'Records written to the disk spool', registers });
    this.landedLate = new Counter({
      name: 'streamline_ingress_events_landed_late_total',
      help: 'Spooled records whose timed-out write landed after all, acknowledged without sending them again, by where it was found',
      labelNames: ['by'],
      registers,
    });
    this.drained = new Counter({ name: 'streamline_ingress_events_drained_total', help: 'Records moved from the disk spool to the log', registers });
    this.dlq = new Counter({ name: 'streamline_ingress_events_dlq_total', help: 'Invalid batch events written to the DLQ topic', registers });
    this.produceErrors = new Counter({ name: 'streamline_ingress_produce_errors_total', help: 'Failed or timed-out log.produce calls', registers });
    this.requestDuration = new Histogram({
      name: 'streamline_ingress_request_duration_seconds',
      help: 'Ingest request latency',
      labelNames: ['route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.04, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    new Gauge({
      name: 'streamline_ingress_spool_bytes',
      help: 'Bytes waiting in the disk spool',
      registers,
      collect() {
        this.set(gauges.spoolBytes());
      },
    });
    new Gauge({
      name: 'streamline_ingress_spool_records',
      help: 'Records waiting in the disk spool',
      registers,
      collect() {
        this.set(gauges.spoolRecords());
      },
    });
    new Gauge({
      name: 'streamline_ingress_in_flight_bytes',
      help: 'Request bytes being processed',
      registers,
      collect() {
        this.set(gauges.inFlightBytes());
      },
    });
    new Gauge({
      name: 'streamline_ingress_circuit_breaker_open',
      help: '1 when the breaker around the log is open, 0.5 half-open, 0 closed',
      registers,
      collect() {
        this.set(gauges.breakerOpen());
      },
    });
  }

  /** Per-route counters bound once, so the hot path does no label lookups. */
  forRoute(route: string) {
    return {
      received: this.received.labels(route),
      acceptedLog: this.accepted.labels(route, 'log'),
      acceptedSpool: this.accepted.labels(route, 'spool'),
      duplicates: this.duplicates.labels(route),
      rejected: (reason: RejectReason) => this.rejected.labels(route, reason),
      duration: (statusCode: number) => this.requestDuration.labels(route, String(statusCode)),
    };
  }
}

export type RouteMetrics = ReturnType<IngressMetrics['forRoute']>;

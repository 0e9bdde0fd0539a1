export type BreakerState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. */
  threshold: number;
  /** Time open before letting probes through. */
  timeoutMs: number;
  /** Probes allowed while half-open; that many successes close it again. */
  maxRequests: number;
  onStateChange?: (from: BreakerState, to: BreakerState) => void;
  now?: () => number;
}

/**
 * The breaker around log.produce, with gobreaker's semantics (seed 000 used it): closed counts
 * consecutive failures; open refuses until the timeout; half-open lets maxRequests calls
 * through, closing after that many successes and reopening on any failure.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probesInFlight = 0;
  private probeSuccesses = 0;
  private readonly now: () => number;
  openCount = 0;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.options.timeoutMs) this.transition('half_open');
    return this.current;
  }

  /** Milliseconds until an open breaker lets a probe through (0 when not open). */
  remainingOpenMs(): number {
    if (this.state !== 'open') return 0;
    return Math.max(0, this.options.timeoutMs - (this.now() - this.openedAt));
  }

  /** Asks to make a call; when true, the caller must report success() or failure(). */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open') return false;
    if (this.probesInFlight >= this.options.maxRequests) return false;
    this.probesInFlight++;
    return true;
  }

  success(): void {
    if (this.current === 'half_open') {
      this.probesInFlight = Math.max(0, this.probesInFlight - 1);
      if (++this.probeSuccesses >= this.options.maxRequests) this.transition('closed');
      return;
    }
    this.failures = 0;
  }

  failure(): void {
    if (this.current === 'half_open') {
      this.probesInFlight = Math.max(0, this.probesInFlight - 1);
      this.transition('open');
      return;
    }
    if (this.current === 'closed' && ++this.failures >= this.options.threshold) this.transition('open');
  }

  private transition(to: BreakerState): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    this.failures = 0;
    this.probeSuccesses = 0;
    this.probesInFlight = 0;
    if (to === 'open') {
      this.openedAt = this.now();
      this.openCount++;
    }
    this.options.onStateChange?.(from, to);
  }
}

/**
 * Backpressure: the bytes of request bodies being processed are bounded. A request that would
 * take the total past the limit is refused at once (503 + Retry-After) instead of queueing
 * without bound while the log is slow.
 */
export class InFlightBudget {
  private used = 0;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.used;
  }

  tryReserve(bytes: number): boolean {
    // One request larger than the whole budget still gets through when nothing else is in flight.
    if (this.used > 0 && this.used + bytes > this.maxBytes) return false;
    this.used += bytes;
    return true;
  }

  /**
   * More bytes for a request already holding `held`: the same rule as tryReserve, seen from
   * that request (alone in flight, it may grow past the limit; it is refused once others hold bytes too).
   */
  tryGrow(held: number, bytes: number): boolean {
    if (this.used > held && this.used + bytes > this.maxBytes) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}

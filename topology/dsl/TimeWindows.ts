/**
 * Tumbling (advance = size) and hopping (advance < size) windows over event time, aligned to the
 * epoch, with a grace period for out-of-order records (Kafka Streams' TimeWindows).
 * A window [start, start + size) accepts records until stream time reaches end + grace; later
 * records are late: counted and dropped.
 */
export class TimeWindows {
  private constructor(
    readonly sizeMs: number,
    readonly advanceMs: number,
    readonly graceMs: number,
  ) {
    if (!(sizeMs > 0)) throw new Error(`window size must be positive, got ${sizeMs}`);
    if (!(advanceMs > 0 && advanceMs <= sizeMs)) throw new Error(`window advance must be in (0, size], got ${advanceMs}`);
    if (!(graceMs >= 0)) throw new Error(`grace must not be negative, got ${graceMs}`);
  }

  static ofSizeWithNoGrace(sizeMs: number): TimeWindows {
    return new TimeWindows(sizeMs, sizeMs, 0);
  }

  static ofSizeAndGrace(sizeMs: number, graceMs: number): TimeWindows {
    return new TimeWindows(sizeMs, sizeMs, graceMs);
  }

  /** Hopping windows: a new window starts every advanceMs. */
  advanceBy(advanceMs: number): TimeWindows {
    return new TimeWindows(this.sizeMs, advanceMs, this.graceMs);
  }

  /** Starts of every window containing timestamp, oldest first. */
  windowStartsFor(timestamp: number): number[] {
    const lastStart = timestamp - (((timestamp % this.advanceMs) + this.advanceMs) % this.advanceMs);
    const starts: number[] = [];
    for (let start = lastStart; start > timestamp - this.sizeMs; start -= this.advanceMs) {
      if (start >= 0) starts.push(start);
    }
    return starts.reverse();
  }

  /** How long a window store must keep windows for this definition. */
  retentionMs(): number {
    return this.sizeMs + this.graceMs;
  }
}

/** A key and the window it was aggregated in; the key of windowed KTables and their streams. */
export interface Windowed<K> {
  key: K;
  windowStart: number;
  windowEnd: number;
}

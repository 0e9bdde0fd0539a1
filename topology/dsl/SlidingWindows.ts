/**
 * Sliding windows (Kafka Streams' SlidingWindows): windows defined by the time difference of
 * records, not aligned to the epoch. Two records of a key fall in a common window when their
 * timestamps differ by at most timeDifferenceMs; a window [start, start + timeDifference] has
 * both ends inclusive. Windows accept records until the aggregation's stream time passes
 * end + grace.
 */
export class SlidingWindows {
  private constructor(
    readonly timeDifferenceMs: number,
    readonly graceMs: number,
  ) {
    // Kafka Streams accepts 0 and then fails on the first record (a window cannot end where it starts).
    if (!(Number.isInteger(timeDifferenceMs) && timeDifferenceMs > 0)) throw new Error(`sliding window time difference must be a positive integer, got ${timeDifferenceMs}`);
    if (!(graceMs >= 0)) throw new Error(`grace must not be negative, got ${graceMs}`);
  }

  static ofTimeDifferenceWithNoGrace(timeDifferenceMs: number): SlidingWindows {
    return new SlidingWindows(timeDifferenceMs, 0);
  }

  static ofTimeDifferenceAndGrace(timeDifferenceMs: number, graceMs: number): SlidingWindows {
    return new SlidingWindows(timeDifferenceMs, graceMs);
  }

  /**
   * How long the window store keeps windows (SlidingWindowStoreMaterializer's default): a new
   * record may need the windows of records up to 2 x timeDifference before it.
   */
  retentionMs(): number {
    return 2 * this.timeDifferenceMs + this.graceMs;
  }
}

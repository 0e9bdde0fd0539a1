/**
 * Which records of two streams join (Kafka Streams' JoinWindows): a left record at t joins the
 * right records of its key with timestamps in [t - before, t + after] and the other way round.
 * Records are kept for before + after + grace of stream time.
 */
export class JoinWindows {
  private constructor(
    readonly beforeMs: number,
    readonly afterMs: number,
    readonly graceMs: number,
  ) {
    if (!(beforeMs >= 0 && afterMs >= 0)) throw new Error(`join window bounds must not be negative, got before ${beforeMs}, after ${afterMs}`);
    if (!(graceMs >= 0)) throw new Error(`grace must not be negative, got ${graceMs}`);
  }

  static ofTimeDifferenceWithNoGrace(timeDifferenceMs: number): JoinWindows {
    return new JoinWindows(timeDifferenceMs, timeDifferenceMs, 0);
  }

  static ofTimeDifferenceAndGrace(timeDifferenceMs: number, graceMs: number): JoinWindows {
    return new JoinWindows(timeDifferenceMs, timeDifferenceMs, graceMs);
  }

  /** Right records up to this much older than the left one join. */
  before(beforeMs: number): JoinWindows {
    return new JoinWindows(beforeMs, this.afterMs, this.graceMs);
  }

  /** Right records up to this much newer than the left one join. */
  after(afterMs: number): JoinWindows {
    return new JoinWindows(this.beforeMs, afterMs, this.graceMs);
  }

  /** The join window stores' retention: Kafka Streams' windows.size() + grace. */
  retentionMs(): number {
    return this.beforeMs + this.afterMs + this.graceMs;
  }
}

/**
 * Session windows (Kafka Streams' SessionWindows): a key's records closer together than the
 * inactivity gap form one session; a record between two sessions merges them. A session
 * [start, end] accepts records until the aggregation's stream time passes end + gap + grace.
 */
export class SessionWindows {
  private constructor(
    readonly inactivityGapMs: number,
    readonly graceMs: number,
  ) {
    if (!(inactivityGapMs > 0)) throw new Error(`inactivity gap must be positive, got ${inactivityGapMs}`);
    if (!(graceMs >= 0)) throw new Error(`grace must not be negative, got ${graceMs}`);
  }

  static ofInactivityGapWithNoGrace(inactivityGapMs: number): SessionWindows {
    return new SessionWindows(inactivityGapMs, 0);
  }

  static ofInactivityGapAndGrace(inactivityGapMs: number, graceMs: number): SessionWindows {
    return new SessionWindows(inactivityGapMs, graceMs);
  }
}

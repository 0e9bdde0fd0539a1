import type { Cancellable, PunctuationType, Punctuator } from '../processor/Processor.js';

interface Schedule {
  intervalMs: number;
  /** Next time this fires; undefined for a stream-time schedule that has not seen a record yet. */
  nextAt: number | undefined;
  punctuator: Punctuator;
  nodeName: string;
  cancelled: boolean;
}

/**
 * A task's punctuation schedules. Stream-time schedules fire when records move stream time past
 * their next time (the first record fires the first one, as in Kafka Streams); wall-clock ones
 * when the run loop finds Date.now() past theirs. A schedule fires once per check however many
 * intervals were skipped: punctuators see the current time and catch up themselves.
 */
export class Punctuations {
  private readonly streamTime: Schedule[] = [];
  private readonly wallClock: Schedule[] = [];

  schedule(nodeName: string, intervalMs: number, type: PunctuationType, punctuator: Punctuator, now: number): Cancellable {
    if (!(intervalMs >= 1)) throw new Error(`punctuation interval must be at least 1 ms, got ${intervalMs}`);
    const schedule: Schedule = {
      intervalMs,
      nextAt: type === 'wall-clock' ? now + intervalMs : undefined,
      punctuator,
      nodeName,
      cancelled: false,
    };
    (type === 'wall-clock' ? this.wallClock : this.streamTime).push(schedule);
    return { cancel: () => (schedule.cancelled = true) };
  }

  fireStreamTime(streamTime: number, run: (nodeName: string, fire: () => void) => void): void {
    this.fire(this.streamTime, streamTime, run);
  }

  fireWallClock(now: number, run: (nodeName: string, fire: () => void) => void): void {
    this.fire(this.wallClock, now, run);
  }

  /** When the next wall-clock schedule is due (undefined: none): how long an idle stream thread may wait. */
  nextWallClockAt(): number | undefined {
    let next: number | undefined;
    for (const schedule of this.wallClock) {
      if (!schedule.cancelled && schedule.nextAt !== undefined && (next === undefined || schedule.nextAt < next)) next = schedule.nextAt;
    }
    return next;
  }

  private fire(schedules: Schedule[], time: number, run: (nodeName: string, fire: () => void) => void): void {
    for (let i = 0; i < schedules.length; i++) {
      const schedule = schedules[i]!;
      if (schedule.cancelled) {
        schedules.splice(i--, 1);
        continue;
      }
      if (schedule.nextAt !== undefined && time < schedule.nextAt) continue;
      const base = schedule.nextAt ?? time;
      const skipped = Math.floor((time - base) / schedule.intervalMs);
      schedule.nextAt = base + (skipped + 1) * schedule.intervalMs;
      run(schedule.nodeName, () => schedule.punctuator(time));
    }
  }
}

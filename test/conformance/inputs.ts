/**
 * Seeded inputs shared by both sides of the conformance suite: generated here and handed to the
 * JVM as JSON, so Kafka Streams and our DSL see the same records in the same order.
 */
import { seededRandom } from '../support/seeded-random.js';

export interface InputRecord {
  topic: string;
  key: string | null;
  value: unknown;
  timestamp: number;
}

/**
 * Records produced together. Phase 0 is written before the app starts (global tables: they load
 * at start); each later phase is produced once the app has processed the previous one, so
 * records of different topics reach a task in the order the Kafka Streams side pipes them
 * (TopologyTestDriver processes each record as it is piped; a task reading several topics picks
 * the lowest timestamp among them).
 */
export type Phase = InputRecord[];

export class Inputs {
  private readonly random: () => number;

  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  chance(probability: number): boolean {
    return this.random() < probability;
  }

  int(from: number, to: number): number {
    return from + Math.floor(this.random() * (to - from + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  /**
   * Event times of a stream: a clock that moves forward 0-3 s per record, each record placed up
   * to 30 s behind it (out of order), some far behind (beyond any grace here: late), some on a
   * window boundary or 1 ms before one (60 s and 30 s windows, 20 s hops).
   */
  timestamps(count: number, startMs = 100_000): number[] {
    let clock = startMs;
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      clock += this.int(0, 3000);
      let t = clock - (this.chance(0.4) ? this.int(0, 30_000) : 0);
      if (this.chance(0.05)) t = clock - this.int(60_000, 150_000);
      if (this.chance(0.1)) t = Math.floor(t / 20_000) * 20_000 - (this.chance(0.5) ? 0 : 1);
      times.push(Math.max(0, t));
    }
    return times;
  }
}

import type { AnalyticsStore, InsertOptions, Row } from '../../sink/AnalyticsStore.js';

/**
 * A store in memory whose events_raw inserts each wait until the test releases them, so a test
 * can hold a flush of the sink at a chosen insert. Other tables' inserts go through (and are not
 * kept); sink_batches reads find no recorded cuts.
 */
export class GatedStore implements AnalyticsStore {
  readonly kind = 'chdb' as const;
  readonly database = 'events_db';
  readonly maxRowsPerInsert = 10_000;
  readonly rows: Row[] = [];
  insertsStarted = 0;
  private readonly gates = new Map<number, () => void>();
  private released = 0;

  async exec(): Promise<void> {}
  async query<T = Row>(): Promise<T[]> {
    return [];
  }
  async insert(table: string, rows: readonly Row[], _options: InsertOptions): Promise<void> {
    if (table !== 'events_raw') return;
    const number = ++this.insertsStarted;
    if (number > this.released) await new Promise<void>((resolve) => this.gates.set(number, resolve));
    this.rows.push(...rows);
  }
  /** Lets the events_raw inserts up to number `upTo` (1-based) go on, now or when they start; all by default. */
  release(upTo = Infinity): void {
    this.released = Math.max(this.released, upTo);
    for (const [number, open] of this.gates) {
      if (number > upTo) continue;
      this.gates.delete(number);
      open();
    }
  }
  async ping(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
}

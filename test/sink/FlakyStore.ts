import type { AnalyticsStore, InsertOptions, QueryParams, Row } from '../../sink/AnalyticsStore.js';

/**
 * Fault injection around a real store: while `down` is set every operation fails as an
 * unreachable server would. Everything else goes to the real engine underneath.
 */
export class FlakyStore implements AnalyticsStore {
  down = false;
  failures = 0;
  constructor(private readonly inner: AnalyticsStore) {}
  get kind() {
    return this.inner.kind;
  }
  get database() {
    return this.inner.database;
  }
  get maxRowsPerInsert() {
    return this.inner.maxRowsPerInsert;
  }
  private check(): void {
    if (this.down) {
      this.failures++;
      throw new Error('connect ECONNREFUSED (injected)');
    }
  }
  async exec(sql: string, params?: QueryParams): Promise<void> {
    this.check();
    return this.inner.exec(sql, params);
  }
  async query<T = Row>(sql: string, params?: QueryParams): Promise<T[]> {
    this.check();
    return this.inner.query<T>(sql, params);
  }
  async insert(table: string, rows: readonly Row[], options: InsertOptions): Promise<void> {
    this.check();
    return this.inner.insert(table, rows, options);
  }
  async ping(): Promise<boolean> {
    return this.down ? false : this.inner.ping();
  }
  async close(): Promise<void> {
    return this.inner.close();
  }
}

/** Resolves when check() holds; polls every 20 ms (the sink exposes no event for "caught up"). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

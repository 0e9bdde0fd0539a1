/**
 * Seed 004 traffic for the fault tests: small POST /events/bulk requests, one after another with a
 * short pause, until stopped. Remembers every event id a 202 acknowledged, and every other answer
 * (a failure: the ingress must answer 2xx through any broker outage).
 */
export class ProductTraffic {
  readonly accepted = new Set<string>();
  readonly failures: string[] = [];
  requests = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly address: string,
    private readonly prefix: string,
    private readonly eventsPerRequest = 5,
    private readonly pauseMs = 40,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Resolves after the next answer. */
  nextResponse(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** One request now (also usable without start()). */
  async send(): Promise<number> {
    const batch = this.requests++;
    const events = Array.from({ length: this.eventsPerRequest }, (_, i) => ({
      event_id: `${this.prefix}-${batch}-${i}`,
      event_name: i % 2 ? 'product_view' : 'add_to_cart',
      channel: i % 3 ? 'web' : 'mobile',
      user_id: `user_${(batch * 7 + i) % 40}`,
      timestamp: Date.now(),
    }));
    try {
      const response = await fetch(`${this.address}/events/bulk`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
      const body = (await response.json()) as { event_ids?: string[] };
      if (response.status === 202) for (const id of body.event_ids ?? []) this.accepted.add(id);
      else this.failures.push(`request ${batch}: ${response.status} ${JSON.stringify(body)}`);
      return response.status;
    } catch (error) {
      this.failures.push(`request ${batch}: ${(error as Error).message}`);
      return 0;
    } finally {
      for (const wake of this.waiters.splice(0)) wake();
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await this.send();
      await new Promise((resolve) => setTimeout(resolve, this.pauseMs));
    }
  }
}

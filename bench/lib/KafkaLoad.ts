/**
 * Landing events for the kafka topology rows, and the readers that watch the contenders' work:
 * - preload: N events (5 % of them re-sent ids, so the dedupe has something to drop) keyed by
 *   user over 5,000 users, JSON like the embedded topology bench;
 * - produceSteady: events at a fixed rate, each stamped with its produce time (sentAt);
 * - OutputReader: reads an output topic read_committed from its start, as a consumer would.
 */
import type { Log, ProducerRecord, TopicPartition } from '../../log/Log.js';

export const USERS = 5000;
/** Every DUPLICATE_EVERY-th event re-sends the id (and key) of the event 7 before it. */
const DUPLICATE_EVERY = 20;

export interface LandingEvent {
  id: string;
  user: string;
  correct: boolean;
  ts: number;
  sentAt?: number;
}

function record(topic: string, origin: number, timestamp: number, sentAt?: number): ProducerRecord {
  const user = `user-${origin % USERS}`;
  const event: LandingEvent = { id: `e-${origin}`, user, correct: origin % 3 === 0, ts: timestamp, ...(sentAt === undefined ? {} : { sentAt }) };
  return { topic, key: Buffer.from(user), value: Buffer.from(JSON.stringify(event)), timestamp };
}

export function partitionsOf(topic: string, partitions: number): TopicPartition[] {
  return Array.from({ length: partitions }, (_, partition) => ({ topic, partition }));
}

/** Writes `events` landing events; returns how many distinct ids they carry. */
export async function preload(log: Log, topic: string, events: number): Promise<{ distinct: number; seconds: number }> {
  const started = performance.now();
  const base = Date.now() - 3_600_000;
  let distinct = 0;
  for (let start = 0; start < events; start += 10_000) {
    const batch: ProducerRecord[] = [];
    for (let n = start; n < Math.min(events, start + 10_000); n++) {
      const duplicate = n % DUPLICATE_EVERY === DUPLICATE_EVERY - 1;
      if (!duplicate) distinct++;
      batch.push(record(topic, duplicate ? n - 7 : n, base + n));
    }
    await log.produce(batch);
  }
  return { distinct, seconds: (performance.now() - started) / 1000 };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `eventsPerSecond` fresh events (ids from firstId on) for durationMs, sent every 10 ms with
 * their produce time in sentAt and as the record timestamp. Returns the number sent.
 */
export async function produceSteady(log: Log, topic: string, eventsPerSecond: number, durationMs: number, firstId: number): Promise<number> {
  const started = performance.now();
  const sends: Promise<unknown>[] = [];
  let sent = 0;
  for (;;) {
    const elapsed = performance.now() - started;
    const due = Math.min(Math.floor((elapsed * eventsPerSecond) / 1000), Math.round((durationMs * eventsPerSecond) / 1000));
    if (due > sent) {
      const now = Date.now();
      const batch: ProducerRecord[] = [];
      for (; sent < due; sent++) batch.push(record(topic, firstId + sent, now, now));
      sends.push(log.produce(batch));
    }
    if (elapsed >= durationMs) break;
    await sleep(10);
  }
  await Promise.all(sends);
  return sent;
}

/** Reads every partition of a topic from offset 0 (read_committed) until stopped, calling onRecord per record. */
export class OutputReader {
  private running = true;
  private readonly loop: Promise<void>;
  count = 0;

  constructor(
    private readonly log: Log,
    topic: string,
    partitions: number,
    private readonly onRecord: (value: Buffer | null, readAt: number) => void = () => undefined,
  ) {
    this.loop = this.run(partitionsOf(topic, partitions));
  }

  private async run(partitions: TopicPartition[]): Promise<void> {
    const next = partitions.map(() => 0);
    while (this.running) {
      let got = 0;
      for (let i = 0; i < partitions.length; i++) {
        const records = await this.log.read(partitions[i]!, next[i]!, 10_000);
        const readAt = Date.now();
        for (const r of records) this.onRecord(r.value, readAt);
        if (records.length > 0) next[i] = records[records.length - 1]!.offset + 1;
        got += records.length;
      }
      this.count += got;
      if (got === 0) await sleep(5);
    }
  }

  /** Resolves once `count` records were read or timeoutMs passed; returns whether the count was reached. */
  async waitFor(count: number, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.count < count && performance.now() < deadline) await sleep(50);
    return this.count >= count;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

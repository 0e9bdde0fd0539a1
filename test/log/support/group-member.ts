import { readAll } from '../log-contract.js';
import { partitionKey, type Log, type LogConsumer, type LogRecord, type TopicPartition, type TransactionalProducer } from '../../../log/Log.js';

/** One line of the shared rebalance journal: '+' at the start of onAssigned, '-' at the end of onRevoked. */
export interface JournalEntry {
  member: string;
  kind: '+' | '-';
  partitions: string[];
}

/**
 * A stream thread in miniature, for the consumer-group tests: a member of `groupId` that polls
 * its input topics and, per batch, writes one output record per input record with the batch's
 * offsets in ONE transaction (exactly-once, as a topology task commits). It records what it was
 * assigned and revoked in a journal shared by the group's members, and any record it got for a
 * partition it did not own.
 */
export class GroupMember {
  readonly owned = new Set<string>();
  readonly violations: string[] = [];
  readonly commitErrors: unknown[] = [];
  processed = 0;
  consumer!: LogConsumer;
  private producer!: TransactionalProducer;
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly log: Log,
    private readonly groupId: string,
    private readonly topics: string[],
    private readonly output: string,
    private readonly journal: JournalEntry[],
    private readonly onChange: () => void = () => undefined,
  ) {}

  async start(): Promise<void> {
    this.consumer = this.log.createConsumer({ groupId: this.groupId });
    this.producer = await this.log.createTransactionalProducer(`${this.groupId}-${this.name}`);
    await this.consumer.subscribe(this.topics, {
      onAssigned: async (tps) => {
        this.journal.push({ member: this.name, kind: '+', partitions: tps.map(partitionKey).sort() });
        for (const tp of tps) this.owned.add(partitionKey(tp));
        this.onChange();
      },
      onRevoked: async (tps) => {
        // Nothing is pending here: every batch is committed before the next poll.
        for (const tp of tps) this.owned.delete(partitionKey(tp));
        this.journal.push({ member: this.name, kind: '-', partitions: tps.map(partitionKey).sort() });
        this.onChange();
      },
    });
    this.running = true;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const batch = await this.consumer.poll(100, 50);
      if (batch.length === 0) continue;
      for (const r of batch) if (!this.owned.has(partitionKey(r))) this.violations.push(`${this.name} got ${partitionKey(r)}@${r.offset} unowned`);
      await this.commit(batch);
    }
  }

  private async commit(batch: LogRecord[]): Promise<void> {
    const transaction = await this.producer.begin();
    transaction.produce(batch.map((r) => ({ topic: this.output, key: r.key, value: Buffer.from(`${r.topic}/${r.value!.toString()}`) })));
    const partitions = new Map<string, TopicPartition>();
    for (const r of batch) partitions.set(partitionKey(r), { topic: r.topic, partition: r.partition });
    transaction.sendOffsets(
      this.consumer,
      [...partitions.values()].map((tp) => ({ ...tp, offset: this.consumer.position(tp)! })),
    );
    try {
      await transaction.commit();
      this.processed += batch.length;
      this.onChange();
    } catch (error) {
      this.commitErrors.push(error);
    }
  }

  /** Partition numbers owned per topic. */
  numbers(topic: string): number[] {
    return this.consumer
      .assignment()
      .filter((tp) => tp.topic === topic)
      .map((tp) => tp.partition)
      .sort((a, b) => a - b);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  async close(): Promise<void> {
    await this.stop();
    await this.consumer.close();
    await this.producer.close();
  }
}

/**
 * Replays the journal: a partition is taken ('+') only while nobody holds it and given up ('-')
 * only by its holder, i.e. the old owner's onRevoked ended before the new owner's onAssigned began.
 * Returns the problems found (none expected).
 */
export function journalProblems(journal: JournalEntry[]): string[] {
  const holder = new Map<string, string>();
  const problems: string[] = [];
  for (const { member, kind, partitions } of journal) {
    for (const key of partitions) {
      if (kind === '+') {
        if (holder.has(key)) problems.push(`${member} assigned ${key} while ${holder.get(key)} held it`);
        holder.set(key, member);
      } else {
        if (holder.get(key) !== member) problems.push(`${member} revoked ${key} held by ${holder.get(key) ?? 'nobody'}`);
        holder.delete(key);
      }
    }
  }
  return problems;
}

/** Waits for a condition of test state that the members' own loops change; fails with `what`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function produceRound(log: Log, topics: string[], round: number, count: number): Promise<string[]> {
  const values: string[] = [];
  const records = topics.flatMap((topic) =>
    Array.from({ length: count }, (_, i) => {
      values.push(`${topic}/r${round}-${i}`);
      return { topic, key: Buffer.from(`key-${i}`), value: Buffer.from(`r${round}-${i}`) };
    }),
  );
  await log.produce(records);
  return values;
}

/** Every input value exactly once in the output topic; committed offsets at the end of every input partition. */
export async function expectExactlyOnce(log: Log, output: string, inputs: string[], expected: string[], groupId: string): Promise<void> {
  const written = (await readAll(log, { topic: output, partition: 0 })).map((r) => r.value!.toString());
  expect(written.length).toBe(expected.length);
  expect(new Set(written).size).toBe(written.length);
  expect([...written].sort()).toEqual([...expected].sort());
  for (const topic of inputs) {
    const count = await log.partitionCount(topic);
    const tps: TopicPartition[] = Array.from({ length: count }, (_, partition) => ({ topic, partition }));
    const committed = await log.committedOffsets(groupId, tps);
    for (const tp of tps) expect(`${partitionKey(tp)}@${committed.get(partitionKey(tp)) ?? 0}`).toBe(`${partitionKey(tp)}@${await log.endOffset(tp)}`);
  }
}

export function expectCoPartitioned(members: GroupMember[], topics: string[], numbers: number): void {
  const all: number[] = [];
  for (const m of members) {
    const mine = m.numbers(topics[0]!);
    for (const topic of topics.slice(1)) expect(`${m.name}:${m.numbers(topic).join(',')}`).toBe(`${m.name}:${mine.join(',')}`);
    all.push(...mine);
  }
  expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: numbers }, (_, i) => i));
}

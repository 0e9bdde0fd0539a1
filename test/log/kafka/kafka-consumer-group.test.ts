import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { partitionKey, type LogConsumer, type LogRecord, type TopicPartition } from '../../../log/Log.js';
import { openKafkaLog, type KafkaLog } from '../../../log/kafka/KafkaLog.js';
import { uniqueName } from '../log-contract.js';
import { testKafkaBrokers } from '../../support/kafka-broker.js';

/**
 * A group member that polls in a loop, commits after every batch, and checks that no record of
 * a partition is returned before onAssigned announced it (or after onRevoked took it away).
 */
class Member {
  readonly events: string[] = [];
  readonly records: LogRecord[] = [];
  readonly owned = new Set<string>();
  readonly violations: string[] = [];
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    readonly consumer: LogConsumer,
    private readonly topic: string,
  ) {}

  async start(): Promise<void> {
    await this.consumer.subscribe([this.topic], {
      onAssigned: async (tps) => {
        for (const tp of tps) this.owned.add(partitionKey(tp));
        this.events.push(`+${partitions(tps)}`);
      },
      onRevoked: async (tps) => {
        // Commit what was processed before giving the partitions up (as a topology task does).
        await this.commit(this.pending(tps));
        for (const tp of tps) this.owned.delete(partitionKey(tp));
        this.events.push(`-${partitions(tps)}`);
      },
    });
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const batch = await this.consumer.poll(50, 200);
        for (const r of batch) if (!this.owned.has(partitionKey(r))) this.violations.push(`${this.name} got ${partitionKey(r)}@${r.offset} unassigned`);
        this.records.push(...batch);
        await this.commit(this.pending(this.consumer.assignment()));
      }
    })();
  }

  private readonly committed = new Map<string, number>();

  private pending(tps: TopicPartition[]) {
    const out = [];
    for (const tp of tps) {
      const mine = this.records.filter((r) => r.partition === tp.partition && r.topic === tp.topic);
      if (mine.length === 0) continue;
      const next = mine[mine.length - 1]!.offset + 1;
      if (this.committed.get(partitionKey(tp)) !== next) out.push({ ...tp, offset: next });
    }
    return out;
  }

  private async commit(offsets: { topic: string; partition: number; offset: number }[]) {
    if (offsets.length === 0) return;
    await this.consumer.commitOffsets(offsets);
    for (const o of offsets) this.committed.set(partitionKey(o), o.offset);
  }

  assignedPartitions(): number[] {
    return this.consumer.assignment().map((tp) => tp.partition).sort((a, b) => a - b);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

function partitions(tps: TopicPartition[]): string {
  return tps.map((tp) => tp.partition).sort((a, b) => a - b).join(',');
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('KafkaLog consumer groups on a real broker (cooperative rebalancing)', () => {
  let brokers: string[];
  let log: KafkaLog;

  beforeAll(async () => {
    brokers = testKafkaBrokers().split(',');
    log = await openKafkaLog({ brokers, clientId: uniqueName('groups'), sessionTimeoutMs: 3000 });
  });

  afterAll(async () => {
    await log?.close();
  });

  it('splits partitions between two members, moves a closed member’s partitions, and delivers each record once', async () => {
    const topic = uniqueName('group-split');
    const groupId = uniqueName('group-split-g');
    await log.ensureTopic(topic, { partitions: 6 });
    const produceRound = async (round: number) =>
      log.produce(Array.from({ length: 60 }, (_, i) => ({ topic, key: Buffer.from(`key-${i}`), value: Buffer.from(`${round}-${i}`) })));

    const a = new Member('A', log.createConsumer({ groupId }), topic);
    const b = new Member('B', log.createConsumer({ groupId }), topic);
    await produceRound(1);
    await a.start();
    await until(() => a.assignedPartitions().length === 6, 15_000, 'A to own all 6 partitions');
    await until(() => a.records.length === 60, 15_000, 'A to read round 1');

    await b.start();
    await until(() => a.assignedPartitions().length === 3 && b.assignedPartitions().length === 3, 20_000, 'a 3/3 split');
    expect([...a.assignedPartitions(), ...b.assignedPartitions()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    // Cooperative: A gave up only the partitions that moved, once, and kept the rest throughout.
    expect(a.events).toEqual(['+0,1,2,3,4,5', `-${b.assignedPartitions().join(',')}`]);
    expect(b.events).toEqual([`+${b.assignedPartitions().join(',')}`]);

    await produceRound(2);
    await until(() => a.records.length + b.records.length === 120, 15_000, 'round 2 split between A and B');

    // A leaves: onRevoked on A for everything it had, then B is assigned those partitions.
    const aHad = a.assignedPartitions();
    await a.stop();
    await a.consumer.close();
    expect(a.events[a.events.length - 1]).toBe(`-${aHad.join(',')}`);
    await until(() => b.assignedPartitions().length === 6, 15_000, 'B to take over A’s partitions');
    expect(b.events[b.events.length - 1]).toBe(`+${aHad.join(',')}`);

    await produceRound(3);
    await until(() => a.records.length + b.records.length === 180, 15_000, 'round 3 read by B');
    await b.stop();
    await b.consumer.close();

    const values = [...a.records, ...b.records].map((r) => r.value!.toString()).sort();
    expect(new Set(values).size).toBe(180);
    expect(a.violations.concat(b.violations)).toEqual([]);
  });

  it('keeps its membership through an onAssigned that outlasts the session timeout (a long restore)', async () => {
    const topic = uniqueName('group-slow-restore');
    await log.ensureTopic(topic, { partitions: 2 });
    await log.produce([0, 1].map((partition) => ({ topic, key: null, value: Buffer.from(`p${partition}`), partition })));
    const consumer = log.createConsumer({ groupId: uniqueName('group-slow-restore-g') });
    const events: string[] = [];
    try {
      await consumer.subscribe([topic], {
        async onAssigned(tps) {
          events.push(`+${partitions(tps)}`);
          // Simulated restore work, longer than the 3 s session timeout of this log.
          await new Promise((resolve) => setTimeout(resolve, 4_500));
        },
        async onRevoked(tps) {
          events.push(`-${partitions(tps)}`);
        },
      });
      const records: LogRecord[] = [];
      const deadline = Date.now() + 20_000;
      while (records.length < 2 && Date.now() < deadline) records.push(...(await consumer.poll(10, 500)));
      expect(records.map((r) => r.value!.toString()).sort()).toEqual(['p0', 'p1']);
      // Still the same member afterwards: nothing was revoked or lost.
      await consumer.poll(10, 1_500);
      expect(events).toEqual(['+0,1']);
    } finally {
      await consumer.close();
    }
  });

  it('moves the partitions of a member that dies without leaving once its session times out', async () => {
    const topic = uniqueName('group-failover');
    const groupId = uniqueName('group-failover-g');
    await log.ensureTopic(topic, { partitions: 4 });

    const child = spawn(process.execPath, ['--import', 'tsx', 'test/log/kafka/fixtures/group-member.ts', brokers.join(','), topic, groupId, '3000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const childExited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const survivor = new Member('S', log.createConsumer({ groupId }), topic);
    try {
      await until(() => lines.includes('assigned 0,1,2,3'), 20_000, `the child to own every partition (stderr: ${stderr})`);
      await survivor.start();
      await until(() => survivor.assignedPartitions().length === 2, 20_000, 'a 2/2 split with the child');

      child.kill('SIGKILL');
      await childExited;
      const killedAt = Date.now();
      await until(() => survivor.assignedPartitions().length === 4, 20_000, 'the survivor to own every partition');
      // Detected through the 3 s session timeout (plus a heartbeat and the rebalance).
      expect(Date.now() - killedAt).toBeLessThan(10_000);

      await log.produce(Array.from({ length: 40 }, (_, i) => ({ topic, key: Buffer.from(`k${i}`), value: Buffer.from(String(i)) })));
      await until(() => survivor.records.length === 40, 15_000, 'the survivor to read from every partition');
      expect(survivor.violations).toEqual([]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await survivor.stop();
      await survivor.consumer.close();
    }
  });
});

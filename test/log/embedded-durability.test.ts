import { openEmbeddedLog } from '../../log/embedded/index.js';
import { readAll } from './log-contract.js';
import { startFixture } from '../support/fixture-process.js';
import { removeDir, tempDir } from '../support/temp-dir.js';

describe('EmbeddedLog durability', () => {
  let dir: string;

  beforeEach(() => {
    dir = tempDir('embedded-log-durability');
  });

  afterEach(() => {
    removeDir(dir);
  });

  it('keeps topics, records, end offsets and committed offsets across close and reopen', async () => {
    const first = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
    await first.ensureTopic('orders', { partitions: 4, cleanupPolicy: 'compact' });
    await first.ensureTopic('events', { partitions: 2 });
    const meta = await first.produce(
      Array.from({ length: 100 }, (_, i) => ({ topic: 'events', key: Buffer.from(`u${i % 9}`), value: Buffer.from(`v${i}`), headers: { n: String(i) } })),
    );
    const consumer = first.createConsumer({ groupId: 'g' });
    await consumer.commitOffsets([{ topic: 'events', partition: 1, offset: 5 }]);
    await consumer.close();
    const ends = [await first.endOffset({ topic: 'events', partition: 0 }), await first.endOffset({ topic: 'events', partition: 1 })];
    await first.close();
    await first.close(); // idempotent

    const second = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
    try {
      expect(await second.listTopics()).toEqual(['events', 'orders']);
      expect(await second.partitionCount('orders')).toBe(4);
      expect([await second.endOffset({ topic: 'events', partition: 0 }), await second.endOffset({ topic: 'events', partition: 1 })]).toEqual(ends);
      const all = [...(await readAll(second, { topic: 'events', partition: 0 })), ...(await readAll(second, { topic: 'events', partition: 1 }))];
      expect(all).toHaveLength(100);
      for (const m of meta) {
        const [r] = await second.read(m, m.offset, 1);
        expect(r.offset).toBe(m.offset);
        expect(r.value!.toString()).toBe(`v${r.headers.n}`);
      }
      const committed = await second.committedOffsets('g', [{ topic: 'events', partition: 1 }, { topic: 'events', partition: 0 }]);
      expect([...committed]).toEqual([['events:1', 5]]);
      // New appends continue after the recovered end offset instead of overwriting.
      const [next] = await second.produce([{ topic: 'events', key: null, value: Buffer.from('after'), partition: 0 }]);
      expect(next.offset).toBe(ends[0]);
    } finally {
      await second.close();
    }
  });

  it('keeps every record whose produce() resolved when the process is SIGKILLed', async () => {
    const child = startFixture('test/log/fixtures/produce-until-killed.ts', [dir, 'landing']);
    try {
      await child.waitForLines(2_000);
    } finally {
      await child.kill();
    }
    const acked = child.lines.filter((l) => l.startsWith('acked ')).map((l) => l.split(' '));
    expect(acked.length).toBeGreaterThanOrEqual(2_000);

    const log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
    try {
      for (const [, partition, offset, value] of acked) {
        const [r] = await log.read({ topic: 'landing', partition: Number(partition) }, Number(offset), 1);
        expect(r?.offset).toBe(Number(offset));
        expect(r.value!.toString()).toBe(value);
      }
      // The log is usable after the crash: appends continue after the recovered end.
      const end = await log.endOffset({ topic: 'landing', partition: 0 });
      const [m] = await log.produce([{ topic: 'landing', key: null, value: Buffer.from('x'), partition: 0 }]);
      expect(m.offset).toBe(end);
    } finally {
      await log.close();
    }
  });

  it('applies a transaction all-or-nothing when the process is SIGKILLed mid-commit', async () => {
    const RECORDS_PER_TX = 50;
    const child = startFixture('test/log/fixtures/commit-until-killed.ts', [dir, 'tx-in', 'tx-out', 'tx-group']);
    try {
      await child.waitForLines(200);
    } finally {
      await child.kill();
    }
    const lastReported = Math.max(...child.lines.map((l) => Number(l.split(' ')[1])));

    const log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
    try {
      const committed = (await log.committedOffsets('tx-group', [{ topic: 'tx-in', partition: 0 }])).get('tx-in:0');
      expect(committed).toBeDefined();
      // Every transaction reported as committed is there; one more may have landed before the kill.
      expect(committed!).toBeGreaterThanOrEqual(lastReported + 1);
      const out = [...(await readAll(log, { topic: 'tx-out', partition: 0 })), ...(await readAll(log, { topic: 'tx-out', partition: 1 }))];
      // Records and offsets are one batch: exactly the records of transactions 0..committed-1.
      expect(out).toHaveLength(committed! * RECORDS_PER_TX);
      const perTx = new Map<number, number>();
      for (const r of out) {
        const tx = Number(r.value!.toString().split(':')[0]);
        perTx.set(tx, (perTx.get(tx) ?? 0) + 1);
      }
      expect(perTx.size).toBe(committed);
      for (const [tx, count] of perTx) {
        expect(tx).toBeLessThan(committed!);
        expect(count).toBe(RECORDS_PER_TX);
      }
    } finally {
      await log.close();
    }
  });
});

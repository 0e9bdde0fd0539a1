import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { StreamsApp, StreamsBuilder } from '../../topology/index.js';
import { DLQ_REASON, ORIGINAL_OFFSET, ORIGINAL_TOPIC } from '../../topology/index.js';
import { jsonValues, readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

interface Click {
  user: string;
  n: number;
}

describe('a stateless pipeline on the embedded log', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('stateless');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('filters, maps, splits and writes every surviving record once, in per-key order', async () => {
    await log.ensureTopic('clicks', { partitions: 3 });
    const records = Array.from({ length: 300 }, (_, n) => ({ topic: 'clicks', key: Buffer.from(`u${n % 7}`), value: Buffer.from(JSON.stringify({ user: `u${n % 7}`, n })) }));
    await log.produce(records);

    const builder = new StreamsBuilder();
    const branches = builder
      .stream<string, Click>('clicks')
      .filter((_key, click) => click.n % 3 !== 0)
      .mapValues((click) => ({ ...click, doubled: click.n * 2 }))
      .split([
        { name: 'even', predicate: (_key, click) => click.n % 2 === 0 },
        { name: 'odd', predicate: () => true },
      ]);
    branches.get('even')!.to('even-clicks');
    branches.get('odd')!.to('odd-clicks');

    const app = new StreamsApp(builder.build(), log, { applicationId: 'stateless', stateDir: `${dir}/state` });
    await app.start();
    await waitForCaughtUp(app, log, 'stateless', ['clicks']);
    await app.close();

    const even = jsonValues<Click & { doubled: number }>(await readAll(log, 'even-clicks'));
    const odd = jsonValues<Click & { doubled: number }>(await readAll(log, 'odd-clicks'));
    const expectedEven = records.map((_, n) => n).filter((n) => n % 3 !== 0 && n % 2 === 0);
    const expectedOdd = records.map((_, n) => n).filter((n) => n % 3 !== 0 && n % 2 !== 0);
    expect(even.map((c) => c.n).sort((a, b) => a - b)).toEqual(expectedEven);
    expect(odd.map((c) => c.n).sort((a, b) => a - b)).toEqual(expectedOdd);
    expect(even.every((c) => c.doubled === c.n * 2)).toBe(true);
    // Within one key, output order is input order.
    for (const user of ['u0', 'u1', 'u2']) {
      const seen = even.filter((c) => c.user === user).map((c) => c.n);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
    }
  });

  test('a poison record goes to the DLQ with its reason and original bytes, and the partition keeps going', async () => {
    await log.ensureTopic('orders', { partitions: 1 });
    await log.produce([
      { topic: 'orders', key: Buffer.from('a'), value: Buffer.from('{"amount":1}') },
      { topic: 'orders', key: Buffer.from('a'), value: Buffer.from('{not json') },
      { topic: 'orders', key: Buffer.from('a'), value: Buffer.from('{"amount":-5}') },
      { topic: 'orders', key: Buffer.from('a'), value: Buffer.from('{"amount":3}') },
    ]);
    const builder = new StreamsBuilder();
    builder
      .stream<string, { amount: number }>('orders')
      .mapValues((order) => {
        if (order.amount < 0) throw new Error('negative amount');
        return order;
      })
      .to('valid-orders');
    const app = new StreamsApp(builder.build(), log, { applicationId: 'poison', stateDir: `${dir}/state`, dlqTopic: 'orders-dlq' });
    await app.start();
    await waitForCaughtUp(app, log, 'poison', ['orders']);
    await app.close();

    expect(jsonValues<{ amount: number }>(await readAll(log, 'valid-orders')).map((o) => o.amount)).toEqual([1, 3]);
    const dead = await readAll(log, 'orders-dlq');
    expect(dead.map((r) => r.value!.toString())).toEqual(['{not json', '{"amount":-5}']);
    expect(dead[0]!.headers[DLQ_REASON]).toMatch(/deserialization failed/);
    expect(dead[1]!.headers[DLQ_REASON]).toBe('negative amount');
    expect(dead.map((r) => r.headers[ORIGINAL_OFFSET])).toEqual(['1', '2']);
    expect(dead[0]!.headers[ORIGINAL_TOPIC]).toBe('orders');
  });
});

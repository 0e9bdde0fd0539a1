import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { JoinWindows, StreamsApp, StreamsBuilder } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

type N = { n: number };
const show = (order: N | undefined, payment: N | undefined) => ({ order: order?.n ?? null, payment: payment?.n ?? null });

/** Orders left/outer joined with the payments of the same user within 10 s, 2 s of grace. */
describe('stream-stream leftJoin / outerJoin with JoinWindows', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('stream-outer-join');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
    for (const topic of ['orders', 'payments', 'out']) await log.ensureTopic(topic, { partitions: 1 });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const record = (topic: string, user: string, n: number, timestamp: number) => ({ topic, key: Buffer.from(user), value: Buffer.from(JSON.stringify({ n })), timestamp });

  const topology = (kind: 'left' | 'outer') => {
    const builder = new StreamsBuilder();
    const payments = builder.stream<string, N>('payments');
    const orders = builder.stream<string, N>('orders');
    const windows = JoinWindows.ofTimeDifferenceAndGrace(10_000, 2000);
    (kind === 'left' ? orders.leftJoin(payments, show, windows, { name: 'j' }) : orders.outerJoin(payments, show, windows, { name: 'j' })).to('out');
    return builder.build();
  };

  async function run(kind: 'left' | 'outer', records: ReturnType<typeof record>[]): Promise<StreamsApp> {
    // One record per produce: the task then sees them in this order whatever their timestamps.
    for (const r of records) await log.produce([r]);
    const app = new StreamsApp(topology(kind), log, { applicationId: `oj-${kind}`, stateDir: `${dir}/state` });
    await app.start();
    await app.whenAssigned();
    await waitForCaughtUp(app, log, `oj-${kind}`, ['orders', 'payments']);
    return app;
  }

  const out = async () => (await readAll(log, 'out')).map((r) => `${r.key!.toString()}@${r.timestamp}:${r.value!.toString()}`);

  test('leftJoin: an unmatched order waits for its window to close, survives deleting local state, and a late partner prevents it', async () => {
    // a@1000 has no payment; b@2000 gets one at 5000 (joined, never emitted unjoined).
    const first = await run('left', [record('orders', 'a', 1, 1000), record('orders', 'b', 2, 2000), record('payments', 'b', 20, 5000)]);
    expect(await out()).toEqual(['b@5000:{"order":2,"payment":20}']);
    await first.close();
    fs.rmSync(`${dir}/state`, { recursive: true, force: true });

    // Stream time 13000 = 1000 + 10000 + 2000: a's window is not closed yet (closes past it).
    const second = await run('left', [record('orders', 'c', 3, 13_000)]);
    expect((await out()).slice(1)).toEqual([]);
    await second.close();
    fs.rmSync(`${dir}/state`, { recursive: true, force: true });

    // 13001 closes a's window: a leaves unjoined with its own timestamp, restored from the changelog.
    const third = await run('left', [record('orders', 'd', 4, 13_001)]);
    expect((await out()).slice(1)).toEqual(['a@1000:{"order":1,"payment":null}']);
    await third.close();
  });

  test('leftJoin: an order already behind stream time by more than the window leaves unjoined at once; unmatched payments never leave', async () => {
    const app = await run('left', [record('payments', 'z', 9, 30_000), record('orders', 'a', 1, 5000), record('orders', 'z', 2, 29_000)]);
    expect(await out()).toEqual(['a@5000:{"order":1,"payment":null}', 'z@30000:{"order":2,"payment":9}']);
    await app.close();
  });

  test('outerJoin: unmatched records of both sides leave when their windows close, in time order', async () => {
    const app = await run('outer', [record('payments', 'p', 7, 1000), record('orders', 'o', 1, 1500), record('orders', 'm', 2, 2000), record('payments', 'm', 8, 3000), record('orders', 'x', 3, 20_000)]);
    expect(await out()).toEqual([
      'm@3000:{"order":2,"payment":8}',
      'p@1000:{"order":null,"payment":7}',
      'o@1500:{"order":1,"payment":null}',
    ]);
    await app.close();
  });
});

import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { JoinWindows, StreamsApp, StreamsBuilder } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

/** Orders joined with the payments of the same user within 10 s (inner join). */
describe('stream-stream join with JoinWindows', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('stream-join');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
    for (const topic of ['orders', 'payments', 'paid']) await log.ensureTopic(topic, { partitions: 1 });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const record = (topic: string, user: string, n: number, timestamp: number) => ({ topic, key: Buffer.from(user), value: Buffer.from(JSON.stringify({ n })), timestamp });

  const topology = () => {
    const builder = new StreamsBuilder();
    const payments = builder.stream<string, { n: number }>('payments');
    builder
      .stream<string, { n: number }>('orders')
      .join(payments, (order, payment) => ({ order: order.n, payment: payment.n }), JoinWindows.ofTimeDifferenceAndGrace(10_000, 0), { name: 'paid-orders' })
      .to('paid');
    return builder.build();
  };

  async function run(records: ReturnType<typeof record>[]): Promise<StreamsApp> {
    if (records.length > 0) await log.produce(records);
    const app = new StreamsApp(topology(), log, { applicationId: 'paid', stateDir: `${dir}/state` });
    await app.start();
    await app.whenAssigned();
    await waitForCaughtUp(app, log, 'paid', ['orders', 'payments']);
    return app;
  }

  const paid = async () => (await readAll(log, 'paid')).map((r) => `${r.key!.toString()}@${r.timestamp}:${r.value!.toString()}`);

  test('joins within the window both ways, keeps duplicates, stamps the later time; restores both sides after local state is deleted', async () => {
    const first = await run([record('orders', 'a', 1, 1000), record('orders', 'a', 2, 1000), record('orders', 'b', 3, 5000)]);
    await first.close();
    const second = await run([record('payments', 'a', 10, 9000), record('payments', 'b', 20, 16_000)]);
    // a's payment at 9000 finds both orders at 1000 (duplicates kept); b's at 16000 is 11 s after its order.
    expect(await paid()).toEqual(['a@9000:{"order":1,"payment":10}', 'a@9000:{"order":2,"payment":10}']);
    await second.close();

    fs.rmSync(`${dir}/state`, { recursive: true, force: true });
    // After a restore from the changelogs: an order at 12000 finds a's payment (9000) and b's (16000 is not b).
    const third = await run([record('orders', 'a', 4, 12_000), record('orders', 'b', 5, 7000)]);
    expect((await paid()).slice(2)).toEqual(['a@12000:{"order":4,"payment":10}', 'b@16000:{"order":5,"payment":20}']);
    await third.close();
  });

  test('records older than the stores keep (stream time - before - after - grace) are not joined', async () => {
    const first = await run([record('payments', 'a', 10, 1000), record('payments', 'z', 0, 30_000)]);
    await first.close();
    // Produced after the payments were processed (in one batch, the task would take the lowest timestamp first).
    const app = await run([record('orders', 'a', 1, 5000), record('orders', 'z', 2, 25_000)]);
    // The payment store's stream time is 30000: it keeps 20 s (10 s each way, no grace), so 1000 is gone.
    expect(await paid()).toEqual(['z@30000:{"order":2,"payment":0}']);
    await app.close();
  });
});

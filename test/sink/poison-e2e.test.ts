import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startService, type RunningService } from '../../app/Service.js';
import type { LogRecord } from '../../log/Log.js';
import { DLQ_REASON, ORIGINAL_TOPIC } from '../../topology/runtime/DeadLetters.js';
import { waitFor } from './FlakyStore.js';

/**
 * Issue 12's probe, end to end on the embedded default pipeline (`npm start`'s composition):
 * records written straight onto the landing topic, bypassing the ingress as any Kafka producer
 * can, must not stop the analytics. A lone surrogate is made well-formed by the parse step and
 * lands; a row ClickHouse refuses (an event time beyond DateTime64) passes the topology and is
 * dead-lettered by the sink; the events sent after both keep arriving, and /ready says 200.
 */
describe('poison on the landing topic, through the whole embedded pipeline', () => {
  let dataDir: string;
  let running: RunningService;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-sink-poison-e2e-'));
    running = await startService(
      { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', SINK_BATCH_LINGER: '50ms' },
      pino({ level: 'warn' }),
    );
    await running.started;
  }, 120_000);

  afterAll(async () => {
    await running?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const count = async (sql: string) => Number((await running.analyticsSql<{ n: number | string }>(sql))[0]!.n);

  test('the lone surrogate lands as U+FFFD, the refused row goes to the DLQ, later events keep arriving, /ready is 200', async () => {
    const now = Date.now();
    const landing = 'events.raw';
    const envelope = (id: string, payload: string) =>
      `{"v":1,"event_id":"${id}","id_assigned":false,"event_type":"product","source":"product","received_at":${now},"payload":${payload}}`;
    // JSON text exactly as a producer can write it: "\ud800" is a valid JSON escape, half a character.
    const lone = envelope('lone\\ud800', `{"event_name":"poison_probe","channel":"web","user_id":"u-lone","timestamp":${now - 1000}}`);
    const farFuture = envelope('far-future', `{"event_name":"poison_probe","channel":"web","user_id":"u-far","timestamp":8.64e15}`);
    await running.log.produce([
      { topic: landing, key: Buffer.from('u-lone'), value: Buffer.from(lone) },
      { topic: landing, key: Buffer.from('u-far'), value: Buffer.from(farFuture) },
    ]);

    const later = 60;
    for (let i = 0; i < later; i++) {
      const response = await fetch(`${running.address}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ event_name: 'after_poison', channel: 'web', user_id: `u-${i % 7}`, timestamp: now + i, event_id: `after-${i}` }),
      });
      expect(response.status).toBe(202);
    }

    await waitFor('every later event in ClickHouse', async () => (await count("SELECT count() AS n FROM events_db.events_raw WHERE event_name = 'after_poison'")) === later, 120_000);
    expect(await count("SELECT uniqExact(event_id) AS n FROM events_db.events_raw WHERE event_name = 'after_poison'")).toBe(later);
    expect(await count("SELECT toUInt64(sum(total_events)) AS n FROM events_db.event_metrics_hourly WHERE event_name = 'after_poison'")).toBe(later);
    // The repaired event is there, once, with the replacement character.
    const probes = await running.analyticsSql<{ event_id: string }>("SELECT event_id FROM events_db.events_raw WHERE event_name = 'poison_probe'");
    expect(probes).toEqual([{ event_id: 'lone\uFFFD' }]);

    // The refused row: in the DLQ with the engine's reason, from the topic the sink reads.
    const dlq: LogRecord[] = [];
    await waitFor('the refused row in the DLQ', async () => {
      dlq.splice(0, dlq.length, ...(await running.log.read({ topic: 'events-dlq', partition: 0 }, 0, 1000)));
      return dlq.some((r) => /ClickHouse refused the row/.test(r.headers[DLQ_REASON] ?? ''));
    });
    const refused = dlq.filter((r) => /ClickHouse refused the row/.test(r.headers[DLQ_REASON] ?? ''));
    expect(refused).toHaveLength(1);
    expect(refused[0]!.headers[DLQ_REASON]).toMatch(/events_db\.events_raw: Code: 41\./);
    expect(refused[0]!.headers[ORIGINAL_TOPIC]).toBe('events.clean');
    expect(JSON.parse(refused[0]!.value!.toString()).event_id).toBe('far-future');

    const ready = await fetch(`${running.address}/ready`);
    expect(ready.status).toBe(200);
  }, 180_000);
});

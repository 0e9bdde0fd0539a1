/**
 * Issue 16 part 2: a PIPELINE_EXTENSIONS module adds a windowed node to the running service
 * without forking it. The service runs its topology in two stream threads and its sink in a
 * thread of its own: each loads the module by path from the env. The funnel's topic is created
 * at start, its ClickHouse table at the sink's start, and its rows are queryable.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startService, type RunningService } from '../../app/Service.js';
import { call } from '../app/support/http-client.js';

const EXTENSION = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../examples/extensions/campaign-funnel.ts');
const TEN_MINUTES = 10 * 60_000;

interface FunnelRow {
  campaign_id: string;
  ws: string;
  impressions: string;
  clicks: string;
  signups: string;
}

describe('PIPELINE_EXTENSIONS: the campaign funnel example in the running service', () => {
  let pipeline: RunningService;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-extension-'));
    pipeline = await startService(
      {
        DATA_DIR: dataDir,
        PORT: '0',
        HOST: '127.0.0.1',
        ADMIN_PORT: '0',
        ADMIN_TOKEN: 'extension-test-token',
        CLICKHOUSE_HTTP_PORT: 'off',
        LOG_LEVEL: 'warn',
        STREAM_THREADS: '2',
        SINK_BATCH_LINGER: '50ms',
        PIPELINE_EXTENSIONS: EXTENSION,
      },
      pino({ level: 'warn' }),
    );
    await pipeline.started;
  }, 180_000);

  afterAll(async () => {
    await pipeline?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('funnel rows per campaign and 10-minute window reach ClickHouse, exactly', async () => {
    // Two whole windows in the past, so every event time is the one sent (never after receipt).
    const w1 = Math.floor((Date.now() - 3 * TEN_MINUTES) / TEN_MINUTES) * TEN_MINUTES;
    const w2 = w1 + TEN_MINUTES;
    let n = 0;
    const event = (campaign: string | undefined, name: string, at: number) => ({
      event_id: `ev-${n}`,
      event_name: name,
      user_id: `user-${n++ % 5}`,
      timestamp: at,
      ...(campaign ? { campaign_id: campaign } : {}),
    });
    const events = [
      event('camp-a', 'impression', w1 + 1_000),
      event('camp-a', 'impression', w1 + 2_000),
      event('camp-a', 'impression', w1 + 3_000),
      event('camp-a', 'click', w1 + 4_000),
      event('camp-a', 'click', w1 + 5_000),
      event('camp-a', 'signup', w1 + 6_000),
      event('camp-b', 'impression', w1 + 7_000),
      event('camp-b', 'impression', w1 + 8_000),
      event('camp-a', 'page_view', w1 + 9_000), // not a funnel stage
      event(undefined, 'click', w1 + 10_000), // no campaign
      event('camp-a', 'impression', w2 + 1_000),
      event('camp-a', 'click', w2 + 2_000),
      event('camp-a', 'signup', w2 + 3_000),
    ];
    for (const body of events) {
      const answer = await call(pipeline.address, '/events', { body });
      expect(answer.status).toBe(202);
    }
    // The same event again: dedupe (before the extension's stream) drops it.
    expect((await call(pipeline.address, '/events', { body: events[5] })).status).toBe(202);

    const expected = [
      { campaign_id: 'camp-a', ws: String(w1), impressions: '3', clicks: '2', signups: '1' },
      { campaign_id: 'camp-a', ws: String(w2), impressions: '1', clicks: '1', signups: '1' },
      { campaign_id: 'camp-b', ws: String(w1), impressions: '2', clicks: '0', signups: '0' },
    ];
    const read = () =>
      pipeline.analyticsSql<FunnelRow>(
        'SELECT campaign_id, toString(toUnixTimestamp64Milli(window_start)) AS ws, toString(impressions) AS impressions, toString(clicks) AS clicks, toString(signups) AS signups ' +
          'FROM events_db.campaign_funnel FINAL ORDER BY campaign_id, window_start',
      );
    const deadline = Date.now() + 90_000;
    let rows = await read();
    // Polled: rows arrive through two threads and a sink batch; no event says "this row is in".
    while (JSON.stringify(rows) !== JSON.stringify(expected) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      rows = await read();
    }
    expect(rows).toEqual(expected);
  }, 120_000);

  test("the extension's topic was created with the landing topic's partitions, and its store has a changelog", async () => {
    // KAFKA_TOPIC's default, the landing topic.
    expect(await pipeline.log.partitionCount('campaign.funnel')).toBe(await pipeline.log.partitionCount('events.raw'));
    const topics = await pipeline.log.listTopics();
    expect(topics.some((topic) => topic.endsWith('campaign-funnel-changelog'))).toBe(true);
    expect(topics.some((topic) => topic.includes('funnel-by-campaign') && topic.endsWith('-repartition'))).toBe(true);
  });
});

// Starts the service with campaign-funnel.mjs, posts product events, prints the funnel rows ClickHouse holds, stops.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startService } from 'streamline-events/app';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnel-'));
const pipeline = await startService({
  DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', CLICKHOUSE_HTTP_PORT: 'off', LOG_LEVEL: 'warn', STREAM_THREADS: '2', SINK_BATCH_LINGER: '50ms',
  PIPELINE_EXTENSIONS: path.join(path.dirname(new URL(import.meta.url).pathname), 'campaign-funnel.mjs'),
}, pino({ level: 'warn' }));
await pipeline.started;
const w = Math.floor((Date.now() - 30 * 60_000) / 600_000) * 600_000;
const events = [['a', 'impression'], ['a', 'impression'], ['a', 'click'], ['a', 'signup'], ['b', 'impression'], ['b', 'page_view']];
for (const [n, [campaign, name]] of events.entries()) {
  const answer = await fetch(`${pipeline.address}/events`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ event_id: `e${n}`, event_name: name, user_id: `u${n}`, campaign_id: `camp-${campaign}`, timestamp: w + n * 1000 }) });
  if (answer.status !== 202) throw new Error(`POST /events: ${answer.status}`);
}
const sql = 'SELECT campaign_id, impressions, clicks, signups FROM events_db.campaign_funnel FINAL ORDER BY campaign_id';
const expected = 2;
let rows = [];
for (let tries = 0; tries < 600 && (rows.length < expected || rows.reduce((s, r) => s + Number(r.impressions) + Number(r.clicks) + Number(r.signups), 0) < 5); tries++) {
  await new Promise((resolve) => setTimeout(resolve, 100)); // the sink writes in batches: polled
  rows = await pipeline.analyticsSql(sql).catch(() => []);
}
console.log(JSON.stringify(rows));
await pipeline.stop();
fs.rmSync(dataDir, { recursive: true, force: true });

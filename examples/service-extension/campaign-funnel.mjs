// docs/EXTENDING.md's worked example, importing the package instead of source paths.
import { TimeWindows } from 'streamline-events';
import { toClickHouseDateTime } from 'streamline-events/sink';

const STAGES = ['impression', 'click', 'signup'];

export default function campaignFunnel(_builder, { filtered }) {
  filtered
    .filter((_user, e) => e.kind === 'product' && typeof e.payload.campaign_id === 'string' && STAGES.includes(e.payload.event_name), { name: 'funnel-select' })
    .groupBy((_user, e) => e.payload.campaign_id, { name: 'funnel-by-campaign' })
    .windowedBy(TimeWindows.ofSizeAndGrace(10 * 60_000, 60_000))
    .aggregate(() => ({ impression: 0, click: 0, signup: 0 }), (_c, e, f) => ({ ...f, [e.payload.event_name]: f[e.payload.event_name] + 1 }), { name: 'campaign-funnel' })
    .toStream({ name: 'funnel-updates' })
    .map((w, f) => [`${w.key}|${w.windowStart}`, { campaign_id: w.key, window_start: w.windowStart, window_end: w.windowEnd, ...f }], { name: 'funnel-rows' })
    .to('campaign.funnel', { name: 'funnel-sink' });
}

export const clickhouse = [{
  topic: 'campaign.funnel',
  table: 'campaign_funnel',
  create: (db) => [`CREATE TABLE IF NOT EXISTS ${db}.campaign_funnel (campaign_id String, window_start DateTime64(3, 'UTC'), window_end DateTime64(3, 'UTC'),
    impressions UInt64, clicks UInt64, signups UInt64, emitted_at DateTime64(3, 'UTC')) ENGINE = ReplacingMergeTree(emitted_at) ORDER BY (campaign_id, window_start)`],
  map: (row, record) => ({
    campaign_id: row.campaign_id, window_start: toClickHouseDateTime(row.window_start), window_end: toClickHouseDateTime(row.window_end),
    impressions: row.impression, clicks: row.click, signups: row.signup, emitted_at: toClickHouseDateTime(record.timestamp),
  }),
}];

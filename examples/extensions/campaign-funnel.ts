/**
 * A per-campaign conversion funnel in 10-minute windows, added to the running pipeline without
 * forking it (docs/EXTENDING.md). Start the service with
 *
 *   PIPELINE_EXTENSIONS=examples/extensions/campaign-funnel.ts npm start
 *
 * Product events (POST /events) with a campaign_id and an event_name of impression, click or
 * signup are counted per campaign and window; each window's counts go to the topic
 * campaign.funnel (created at start like the pipeline's topics) and from there to the ClickHouse
 * table campaign_funnel (created at the sink's start): one row per update, the newest per window
 * kept by ReplacingMergeTree (query it with FINAL).
 */
import type { PipelineStreams } from '../../processors/index.js';
import type { ClickHouseTable } from '../../processors/PipelineExtensions.js';
import { toClickHouseDateTime } from '../../sink/RowMappers.js';
import { TimeWindows, type StreamsBuilder } from '../../topology/index.js';

export const FUNNEL_TOPIC = 'campaign.funnel';
const STAGES = ['impression', 'click', 'signup'] as const;
type Stage = (typeof STAGES)[number];
type Funnel = Record<Stage, number>;

export interface FunnelRow extends Funnel {
  campaign_id: string;
  window_start: number;
  window_end: number;
}

const stageOf = (name: unknown): Stage | undefined => (STAGES as readonly unknown[]).includes(name) ? (name as Stage) : undefined;

export default function campaignFunnel(_builder: StreamsBuilder, { filtered }: PipelineStreams): void {
  filtered
    .filter((_user, event) => event.kind === 'product' && typeof event.payload.campaign_id === 'string' && stageOf(event.payload.event_name) !== undefined, { name: 'funnel-select' })
    .groupBy((_user, event) => event.payload.campaign_id as string, { name: 'funnel-by-campaign' })
    .windowedBy(TimeWindows.ofSizeAndGrace(10 * 60_000, 60_000))
    .aggregate<Funnel>(
      () => ({ impression: 0, click: 0, signup: 0 }),
      (_campaign, event, funnel) => {
        const stage = stageOf(event.payload.event_name)!;
        return { ...funnel, [stage]: funnel[stage] + 1 };
      },
      { name: 'campaign-funnel' },
    )
    .toStream({ name: 'funnel-updates' })
    .map((window, funnel): [string, FunnelRow] => [
      `${window.key}|${window.windowStart}`,
      { campaign_id: window.key, window_start: window.windowStart, window_end: window.windowEnd, ...funnel },
    ], { name: 'funnel-rows' })
    .to(FUNNEL_TOPIC, { name: 'funnel-sink' });
}

/** The ClickHouse table the funnel rows go to: the sink reads FUNNEL_TOPIC into it. */
export const clickhouse: ClickHouseTable[] = [
  {
    topic: FUNNEL_TOPIC,
    table: 'campaign_funnel',
    create: (db) => [
      `CREATE TABLE IF NOT EXISTS ${db}.campaign_funnel (
  campaign_id String,
  window_start DateTime64(3, 'UTC'),
  window_end DateTime64(3, 'UTC'),
  impressions UInt64,
  clicks UInt64,
  signups UInt64,
  emitted_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(emitted_at)
ORDER BY (campaign_id, window_start)`,
    ],
    map: (value, record) => {
      const row = value as FunnelRow;
      return {
        campaign_id: row.campaign_id,
        window_start: toClickHouseDateTime(row.window_start),
        window_end: toClickHouseDateTime(row.window_end),
        impressions: row.impression,
        clicks: row.click,
        signups: row.signup,
        emitted_at: toClickHouseDateTime(record.timestamp),
      };
    },
  },
];

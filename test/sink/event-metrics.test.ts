import fs from 'node:fs';
import { ChdbStore } from '../../sink/ChdbStore.js';
import { migrate } from '../../sink/Migrator.js';
import { rawEventMapper } from '../../sink/RowMappers.js';
import { createAnalyticsHandler, queryEventMetrics, type EventMetricsResponse } from '../../sink/EventMetricsQuery.js';
import type { Row } from '../../sink/AnalyticsStore.js';
import { asLogRecord, CHANNELS, envelope, EVENT_NAMES, expectedMetrics, generateEvents, type ProductEvent } from './generate.js';
import { tempDir } from '../support/temp-dir.js';

const NOW = Date.now();
const NOW_S = Math.floor(NOW / 1000);

function asMap(data: EventMetricsResponse['data']) {
  return new Map(data.map((g) => [g.group, { total_events: g.total_events, unique_users: g.unique_users }]));
}

describe('seed 004 GET /metrics from the materialized view (real chDB)', () => {
  const dir = tempDir('metrics');
  let store: ChdbStore;
  let events: ProductEvent[];

  beforeAll(async () => {
    store = await ChdbStore.open({ path: dir });
    await migrate(store, { eventsTtlDays: 0 });
    // 20k events over 40 hours, inserted as the sink would: per-partition batches of 1000.
    events = generateEvents(20_000, NOW, 40, 2024);
    for (let first = 0; first < events.length; first += 1000) {
      const batch = events.slice(first, first + 1000);
      const rows = batch.map((e, i) => rawEventMapper(envelope(e), asLogRecord(envelope(e), 'events.raw', 0, first + i)) as Row);
      await store.insert('events_raw', rows, { dedupToken: `events.raw:0:${first}-${first + batch.length - 1}` });
    }
  });
  afterAll(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const ranges: Array<[string, number, number]> = [
    ['the whole stream', NOW_S - 41 * 3600, NOW_S],
    ['a window that starts and ends mid-hour', NOW_S - 17 * 3600 - 1234, NOW_S - 3 * 3600 - 77],
    ['a single hour', Math.floor(NOW_S / 3600) * 3600 - 5 * 3600, Math.floor(NOW_S / 3600) * 3600 - 5 * 3600 + 10],
  ];

  test.each(ranges)('totals, per channel and per hour match the stream: %s', async (_name, from, to) => {
    for (const eventName of EVENT_NAMES) {
      const expected = expectedMetrics(events, eventName, from, to);
      expect(expected.total_events).toBeGreaterThan(0);
      const byChannel = await queryEventMetrics(store, { event_name: eventName, from, to, group_by: 'channel' });
      expect(byChannel).toMatchObject({ event_name: eventName, from, to, grouped_by: 'channel' });
      expect(byChannel.total_events).toBe(expected.total_events);
      expect(byChannel.unique_users).toBe(expected.unique_users);
      expect(asMap(byChannel.data)).toEqual(expected.byChannel);
      const totals = byChannel.data.map((g) => g.total_events);
      expect(totals).toEqual([...totals].sort((a, b) => b - a));

      const byHour = await queryEventMetrics(store, { event_name: eventName, from, to, group_by: 'hour' });
      expect(byHour.total_events).toBe(expected.total_events);
      expect(byHour.unique_users).toBe(expected.unique_users);
      expect(asMap(byHour.data)).toEqual(expected.byHour);
      expect(byHour.data.map((g) => g.group)).toEqual([...byHour.data.map((g) => g.group)].sort());
      expect(byHour.data[0]!.group).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/);
    }
  });

  test('the adapter answers seed 004 shape with defaults of the last 24 hours', async () => {
    const handler = createAnalyticsHandler(store, { now: () => NOW });
    const response = await handler({ event_name: 'purchase', group_by: 'channel' });
    expect(response.statusCode).toBe(200);
    const body = response.body as EventMetricsResponse;
    expect(Object.keys(body)).toEqual(['event_name', 'from', 'to', 'grouped_by', 'total_events', 'unique_users', 'data']);
    expect(body.to).toBe(NOW_S);
    expect(body.from).toBe(NOW_S - 86_400);
    const expected = expectedMetrics(events, 'purchase', NOW_S - 86_400, NOW_S);
    expect(body.total_events).toBe(expected.total_events);
    expect(body.unique_users).toBe(expected.unique_users);
    for (const group of body.data) {
      expect(Object.keys(group)).toEqual(['group', 'total_events', 'unique_users']);
      expect(CHANNELS).toContain(group.group);
    }
    const plain = await handler({ event_name: 'purchase' });
    expect(plain.body).toMatchObject({ grouped_by: null, data: [], total_events: expected.total_events });
    const unknown = await handler({ event_name: 'never_sent' });
    expect(unknown.body).toMatchObject({ total_events: 0, unique_users: 0, data: [] });
  });

  test.each([
    [{}, /event_name is required/],
    [{ event_name: '  ' }, /event_name is required/],
    [{ event_name: 'purchase', from: 'yesterday' }, /^from must be a Unix timestamp in seconds/],
    [{ event_name: 'purchase', to: '1.5' }, /^to must be a Unix timestamp in seconds/],
    [{ event_name: 'purchase', from: '-5' }, /^from must be/],
    [{ event_name: 'purchase', from: '200', to: '100' }, /from \(200\) must not be after to \(100\)/],
    [{ event_name: 'purchase', group_by: 'day' }, /group_by must be "channel" or "hour", got "day"/],
  ])('a bad query %j gets a 400 naming the parameter', async (query, message) => {
    const handler = createAnalyticsHandler(store);
    const response = await handler(query as Record<string, string>);
    expect(response.statusCode).toBe(400);
    expect((response.body as { error: string }).error).toMatch(message);
  });
});

/**
 * What the chDB insert benches (chdb-insert-settings, chdb-insert-paths) share: their numeric
 * options, batches of seed 004 events mapped as the sink maps them, and the process's CPU.
 */
import type { LogRecord } from '../../log/Log.js';
import type { Row } from '../../sink/AnalyticsStore.js';
import { rawEventMapper } from '../../sink/RowMappers.js';

/** `--name N` from the command line, or the fallback. */
export function numberOption(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const names = ['product_view', 'add_to_cart', 'purchase', 'checkout'];
const channels = ['web', 'mobile', 'api', 'email', 'push'];

/**
 * A generator of batches of `rows` seed 004 events in the ingress envelope, mapped to events_raw
 * rows (rawEventMapper), with `users` distinct user ids; event ids never repeat across batches.
 */
export function mappedEventBatches(rows: number, users: number): () => Row[] {
  let offset = 0;
  return () => {
    const now = Date.now();
    return Array.from({ length: rows }, () => {
      const i = offset++;
      const value = {
        event_id: `evt-${i}-${(i * 2_654_435_761) % 1e9}`,
        event_type: 'product',
        source: 'bench',
        received_at: now,
        payload: { event_name: names[i % 4], channel: channels[i % 5], campaign_id: `camp-${i % 17}`, user_id: `user-${(i * 31) % users}`, timestamp: now - (i % 1000), tags: ['sale'], metadata: { product_id: `SKU-${i % 900}` } },
      };
      const record: LogRecord = { topic: 'events.clean', partition: i % 4, offset: i, key: null, value: Buffer.from(JSON.stringify(value)), headers: {}, timestamp: now };
      return rawEventMapper(value, record) as Row;
    });
  };
}

/** The process's CPU time so far (user + system), ms. */
export function processCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/**
 * Restore throughput of a RocksDB key-value store from its changelog. Target (BENCHMARKS.md "Targets"):
 * >= 1M store entries restored in <= 10 s, i.e. >= 100k entries/s.
 *
 * Two measurements on the same 1M distinct keys (~120-byte JSON values):
 * - store: changelog pages already in memory (what the store itself costs);
 * - log:   the same records read back from the embedded log with log.read() in pages of
 *          `page` records, as the runtime restores (what a restart costs end to end).
 *
 *   node --import tsx bench/store-restore.ts [entries] [page]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LogRecord, ProducerRecord } from '../log/Log.js';
import { openEmbeddedLog } from '../log/embedded/index.js';
import { jsonSerde, stringSerde } from '../state/Serde.js';
import { keyValueStore } from '../state/Stores.js';

const entries = Number(process.argv[2] ?? 1_000_000);
const page = Number(process.argv[3] ?? 10_000);
const topic = 'bench-counts-changelog';

function changelogValue(i: number): Buffer {
  return Buffer.from(
    JSON.stringify({ user_id: `user-${i}`, count: i % 1000, sum: i * 3, last_seen: 1_700_000_000_000 + i, channel: 'web' }),
  );
}

function makeRecords(): LogRecord[] {
  const out: LogRecord[] = new Array(entries);
  for (let i = 0; i < entries; i++) {
    out[i] = {
      topic,
      partition: 0,
      offset: i,
      key: Buffer.from(`user-${i}`),
      value: changelogValue(i),
      headers: { source_offset: String(i) },
      timestamp: 1_700_000_000_000,
    };
  }
  return out;
}

const builder = keyValueStore('counts', stringSerde, jsonSerde<unknown>());

async function restoreFrom(read: (offset: number) => Promise<LogRecord[]>, endOffset: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-store-restore-'));
  const store = builder.build('bench');
  try {
    const started = process.hrtime.bigint();
    let offset = (await store.open(dir)) ?? 0;
    while (offset < endOffset) {
      const records = await read(offset);
      if (records.length === 0) break;
      await store.restore(records);
      offset = records[records.length - 1].offset + 1;
    }
    await store.finishRestore(offset);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    // Spot check that the restore wrote what it read.
    const probe = Math.floor(entries / 2);
    if (JSON.stringify(store.get(`user-${probe}`)) !== changelogValue(probe).toString()) {
      throw new Error('restored value mismatch');
    }
    return { seconds, entriesPerSecond: Math.round(entries / seconds) };
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const records = makeRecords();
  const fromMemory = await restoreFrom(async (offset) => records.slice(offset, offset + page), entries);

  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-store-restore-log-'));
  const log = await openEmbeddedLog({ dir: logDir });
  let fromLog;
  try {
    await log.ensureTopic(topic, { partitions: 1, cleanupPolicy: 'compact' });
    for (let i = 0; i < entries; i += 10_000) {
      const chunk: ProducerRecord[] = records
        .slice(i, i + 10_000)
        .map((r) => ({ topic, partition: 0, key: r.key, value: r.value, headers: r.headers }));
      await log.produce(chunk);
    }
    const end = await log.endOffset({ topic, partition: 0 });
    fromLog = await restoreFrom((offset) => log.read({ topic, partition: 0 }, offset, page), end);
  } finally {
    await log.close();
    fs.rmSync(logDir, { recursive: true, force: true });
  }

  console.log(
    JSON.stringify({
      bench: 'store-restore',
      entries,
      page,
      store: { seconds: Number(fromMemory.seconds.toFixed(2)), entriesPerSecond: fromMemory.entriesPerSecond },
      log: { seconds: Number(fromLog.seconds.toFixed(2)), entriesPerSecond: fromLog.entriesPerSecond },
    }),
  );
  console.log(
    `store restore: ${fromMemory.entriesPerSecond.toLocaleString('en-US')} entries/s from memory, ` +
      `${fromLog.entriesPerSecond.toLocaleString('en-US')} entries/s from the embedded log ` +
      `(${entries.toLocaleString('en-US')} entries in ${fromLog.seconds.toFixed(2)} s; target <= 10 s)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

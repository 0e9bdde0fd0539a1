/**
 * The key filter's rebuild after a reopen (state/StoreKeyFilter.ts): how long the stream thread
 * is blocked at once (the longest gap between event-loop turns while the rebuild runs), and how
 * long the whole rebuild takes, for a store of `keys` dedupe-like ids (issues 13/21: dedupe keeps
 * ~6.5M ids per task for its 24 h TTL at 300 events/s).
 *
 *   node --import tsx bench/key-filter-rebuild.ts [keys]
 *
 * The rebuild starts at the first read of a filtered key after open. Reads of absent keys are
 * timed before the filter is ready (RocksDB answers) and after (the filter answers).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LogRecord } from '../log/Log.js';
import { jsonSerde, stringSerde } from '../state/Serde.js';
import { keyValueStore } from '../state/Stores.js';
import { setStoreMemory, storeMemory } from '../state/StoreMemory.js';
import { RocksDBEngine } from '../state/RocksDBEngine.js';
import type { RocksDBKeyValueStore } from '../state/RocksDBKeyValueStore.js';

const keys = Number(process.argv[2] ?? 1_000_000);
const topic = 'bench-dedupe-changelog';
// The filter's share as a service with the default pipeline's stores open in this thread would have it.
setStoreMemory({ ...storeMemory(), keyFilterBytes: 64 * 1024 * 1024 });

function idOf(i: number): string {
  return `s:page_view:evt-${(i * 2654435761) >>> 0}-${i}`;
}

function newStore(): RocksDBKeyValueStore<string, number> {
  return keyValueStore('dedupe-ids', stringSerde, jsonSerde<number>(), { keyFilter: { prefix: 's:' }, readCacheEntries: 0 }).build('app');
}

async function fill(dir: string): Promise<void> {
  const store = newStore();
  await store.open(dir);
  const page = 50_000;
  for (let start = 0; start < keys; start += page) {
    const records: LogRecord[] = [];
    for (let i = start; i < Math.min(keys, start + page); i++) {
      records.push({ topic, partition: 0, offset: i, key: Buffer.from(idOf(i)), value: Buffer.from(String(i)), headers: {}, timestamp: 0 });
    }
    await store.restore(records);
  }
  await store.finishRestore(keys);
  await store.close();
}

/** Microseconds per read of `count` absent ids. */
function absentReadMicros(store: RocksDBKeyValueStore<string, number>, count: number, tag: string): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) if (store.get(`s:page_view:absent-${tag}-${i}`) !== undefined) throw new Error('absent id found');
  return Number(process.hrtime.bigint() - started) / 1e3 / count;
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'key-filter-rebuild-'));
  try {
    let started = process.hrtime.bigint();
    await fill(dir);
    console.log(`filled ${keys} keys in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`);

    const store = newStore();
    await store.open(dir);
    // Keys scanned between two event-loop turns: the work of a slice, whatever the machine's load adds to its time.
    let keysThisTurn = 0;
    let mostKeysInATurn = 0;
    const cursor = RocksDBEngine.prototype.keyTextCursor;
    RocksDBEngine.prototype.keyTextCursor = function (this: RocksDBEngine, range) {
      const inner = cursor.call(this, range);
      return { next: (visit) => inner.next((key) => (keysThisTurn++, visit(key))), close: () => inner.close() };
    };
    // Event-loop turns: the longest gap between two is the longest synchronous stretch.
    let longestGapMs = 0;
    const gaps: number[] = [];
    let turns = 0;
    let last = performance.now();
    let pinging = true;
    const ping = () => {
      const now = performance.now();
      longestGapMs = Math.max(longestGapMs, now - last);
      gaps.push(now - last);
      mostKeysInATurn = Math.max(mostKeysInATurn, keysThisTurn);
      keysThisTurn = 0;
      last = now;
      turns++;
      if (pinging) setImmediate(ping);
    };
    setImmediate(ping);
    await new Promise((resolve) => setImmediate(resolve));

    started = process.hrtime.bigint();
    const firstRead = performance.now();
    store.get(idOf(0));
    const firstReadMs = performance.now() - firstRead;
    const duringMicros = absentReadMicros(store, 1000, 'during');
    await store.keyFilterSettled();
    const rebuildMs = Number(process.hrtime.bigint() - started) / 1e6;
    pinging = false;
    const afterMicros = absentReadMicros(store, 100_000, 'after');
    for (let i = 0; i < keys; i += 997) if (store.get(idOf(i)) !== i) throw new Error(`id ${i} not found after the rebuild`);
    console.log(
      JSON.stringify({
        keys,
        firstReadMs: +firstReadMs.toFixed(2),
        longestBlockMs: +Math.max(firstReadMs, longestGapMs).toFixed(2),
        eventLoopTurns: turns,
        mostKeysInATurn: Math.max(mostKeysInATurn, keysThisTurn),
        gapP50Ms: +percentile(gaps, 0.5).toFixed(2),
        gapP99Ms: +percentile(gaps, 0.99).toFixed(2),
        rebuildMs: +rebuildMs.toFixed(0),
        absentReadMicrosBeforeReady: +duringMicros.toFixed(2),
        absentReadMicrosAfterReady: +afterMicros.toFixed(2),
      }),
    );
    await store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();

/**
 * What a RocksDB point read costs one key at a time against one multi-get of many (issue 13:
 * PreAggregator reads its distinct-member markers at the commit, MultiGetKeyValueStore). One
 * store column with 300,000 committed seen-marker keys (`<window start>|<key>|<member>`), 50,000
 * random present keys read three ways per round: get() each, getMany() of 500, getMany() of 500
 * sorted. The block cache is the memory plan's (StoreMemory defaults) unless --block-cache-mb.
 *
 *   npx tsx bench/store-multi-get.ts [--block-cache-mb N] [--rounds 3]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RocksDBEngine } from '../state/RocksDBEngine.js';
import { setStoreMemory, storeMemory } from '../state/StoreMemory.js';
import { median } from './lib/Percentiles.js';

const option = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const blockCacheMb = option('block-cache-mb', NaN);
if (Number.isFinite(blockCacheMb)) setStoreMemory({ ...storeMemory(), blockCacheBytes: blockCacheMb * 1024 * 1024 });
const rounds = option('rounds', 3);
const STORED = 300_000;
const READS = 50_000;
const BATCH = 500;

const key = (i: number) => Buffer.from(`\u0001000001796630400000|product_view:web|user_${i}`, 'latin1');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-multi-get-'));
const engine = await RocksDBEngine.open(dir, 'seen');
try {
  for (let from = 0; from < STORED; from += 5000) {
    const batch = engine.batch();
    for (let i = from; i < from + 5000; i++) batch.put(key(i), Buffer.from('1'));
    batch.write();
  }
  const keys = Array.from({ length: READS }, () => key(Math.floor(Math.random() * STORED)));
  const perKey = (read: () => void) => {
    const start = performance.now();
    read();
    return ((performance.now() - start) * 1000) / READS;
  };
  const figures = { single: [] as number[], many: [] as number[], sorted: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    figures.single.push(perKey(() => keys.forEach((k) => engine.get(k))));
    figures.many.push(perKey(() => { for (let i = 0; i < READS; i += BATCH) engine.getMany(keys.slice(i, i + BATCH)); }));
    figures.sorted.push(perKey(() => { for (let i = 0; i < READS; i += BATCH) engine.getMany(keys.slice(i, i + BATCH).sort(Buffer.compare)); }));
  }
  console.log(`${READS} reads of present keys among ${STORED}, block cache ${(storeMemory().blockCacheBytes / 1024).toFixed(0)} KiB, µs per key (median of ${rounds}):`);
  console.log(`get() one at a time ${median(figures.single).toFixed(2)}   getMany(${BATCH}) ${median(figures.many).toFixed(2)}   getMany(${BATCH}) sorted ${median(figures.sorted).toFixed(2)}`);
} finally {
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

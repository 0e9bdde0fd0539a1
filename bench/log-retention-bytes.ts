/**
 * Cost of the embedded log's size retention (issue 21 item 3): CPU of the cleaner pass that first
 * counts and trims a partition, of the next after more appends, and of one with nothing new.
 *
 *   npx tsx bench/log-retention-bytes.ts      (BENCH_RECORDS=200000 of 300 bytes, bound 16 MiB)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEmbeddedLog } from '../log/embedded/index.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 200_000);
const BOUND = 16 * 1024 * 1024;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-retention-bytes-'));
const log = await openEmbeddedLog({ dir, cleanupIntervalMs: 0 });
const tp = { topic: 'bounded', partition: 0 };
try {
  await log.ensureTopic(tp.topic, { partitions: 1, retentionBytes: BOUND });
  const value = Buffer.alloc(300, 97);
  const append = async (prefix: string, count: number) => {
    for (let i = 0; i < count; i += 1000) {
      await log.produce(Array.from({ length: Math.min(1000, count - i) }, (_, j) => ({ ...tp, key: Buffer.from(`${prefix}${i + j}`), value })));
    }
  };
  const pass = async (label: string) => {
    const before = process.cpuUsage();
    const { expired } = await log.compactNow();
    const cpu = process.cpuUsage(before);
    console.log(`${label}: ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU, ${expired} records removed, log start ${await log.beginningOffset(tp)} of ${await log.endOffset(tp)}`);
  };
  await append('a', RECORDS);
  await pass(`first pass (counts the partition, trims ${RECORDS} records of 300 B to ${BOUND / 1048576} MiB)`);
  await append('b', RECORDS / 10);
  await pass(`next pass after ${RECORDS / 10} appended`);
  await pass('a pass with nothing new');
} finally {
  await log.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

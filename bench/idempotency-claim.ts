/**
 * The ingress's duplicate fast path alone: MemoryIdempotencyStore.claimNow over batches of 1000
 * fresh client ids (strings made by JSON.parse, as the batch routes see them), the default
 * IDEMPOTENCY_MAX_KEYS (200k), plus 10 % repeats. Prints ns per id and the heap kept after a GC.
 *
 *   node --expose-gc --import tsx bench/idempotency-claim.ts [batches]
 */
import { MemoryIdempotencyStore } from '../ingress/IdempotencyStore.js';

const batches = Number(process.argv[2] ?? 3_000);
const perBatch = 1000;
const store = new MemoryIdempotencyStore(200_000);
const namespaces = new Array<string>(perBatch).fill('https://streamline.dev/schemas/product-event.json');
const ttls = new Array<number>(perBatch).fill(24 * 3_600_000);

function idsOf(batch: number): string[] {
  // A repeat every 10th id (a client retry of the previous batch), the rest new.
  const texts: string[] = [];
  for (let i = 0; i < perBatch; i++) {
    const repeat = i % 10 === 0 && batch > 0;
    texts.push(`"evt_${String(repeat ? batch - 1 : batch).padStart(8, '0')}_${repeat ? i + 1 : i}"`);
  }
  return JSON.parse('[' + texts.join(',') + ']') as string[];
}

let duplicates = 0;
let nanos = 0n;
const now = Date.now();
for (let b = 0; b < batches; b++) {
  const ids = idsOf(b);
  const t0 = process.hrtime.bigint();
  const claimed = store.claimNow(namespaces, ids, ttls, now);
  nanos += process.hrtime.bigint() - t0;
  for (const c of claimed) if (!c) duplicates++;
}
(globalThis as { gc?: () => void }).gc?.();
const perId = Number(nanos) / (batches * perBatch);
console.log(
  `claimNow: ${perId.toFixed(0)} ns/id over ${batches * perBatch} ids, ${duplicates} duplicates, ` +
    `heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
);

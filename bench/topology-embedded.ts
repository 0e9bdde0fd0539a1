/**
 * Topology throughput on the embedded log: N landing events already in the log, a topology of
 * parse → dedupe-like KV lookup → windowed count → filter → output topic; reports events/s from
 * start to the commit that covers the last input.
 *
 *   npx tsx bench/topology-embedded.ts [events=200000]
 *
 * Also reports the process's CPU µs per event (user + system, RocksDB's threads included) from
 * start to that commit: on a shared machine a steadier figure than events/s. For an A/B, run it
 * from two checkouts alternately (A B B A ...) and compare the medians.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEmbeddedLog } from '../log/embedded/index.js';
import type { KeyValueStore } from '../state/StateStore.js';
import { StreamsApp, StreamsBuilder, TimeWindows, keyValueStoreBuilder, type FixedKeyProcessor, type FixedKeyProcessorContext, type FixedKeyRecord } from '../topology/index.js';
import { jsonSerde, stringSerde } from '../state/Serde.js';

const EVENTS = Number(process.argv[2] ?? 200_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-topology-'));

interface Attempt {
  id: string;
  user: string;
  correct: boolean;
  ts: number;
}

class SeenBefore implements FixedKeyProcessor<string, Attempt> {
  private context!: FixedKeyProcessorContext<string, Attempt>;
  private seen!: KeyValueStore<string, number>;
  init(context: FixedKeyProcessorContext<string, Attempt>): void {
    this.context = context;
    this.seen = context.getStateStore('seen-ids');
  }
  process(record: FixedKeyRecord<string, Attempt>): void {
    if (this.seen.get(record.value.id) !== undefined) return;
    this.seen.put(record.value.id, record.timestamp);
    this.context.forward(record);
  }
}

const log = await openEmbeddedLog({ dir: `${dir}/log` });
await log.ensureTopic('landing', { partitions: 4 });
const base = Date.now() - 3_600_000;
for (let start = 0; start < EVENTS; start += 10_000) {
  const batch = [];
  for (let n = start; n < Math.min(EVENTS, start + 10_000); n++) {
    const user = `user-${n % 5000}`;
    batch.push({ topic: 'landing', key: Buffer.from(user), value: Buffer.from(JSON.stringify({ id: `e-${n}`, user, correct: n % 3 === 0, ts: base + n })), timestamp: base + n });
  }
  await log.produce(batch);
}

const builder = new StreamsBuilder();
const stream = builder.stream<string, Attempt>('landing');
const deduped = stream.processValues(() => new SeenBefore(), { name: 'dedupe' });
builder.topology.addStateStore(keyValueStoreBuilder('seen-ids', stringSerde, jsonSerde<number>()), 'dedupe');
deduped.filter((_k, a: Attempt) => a.correct).to('correct-attempts');
deduped.groupByKey().windowedBy(TimeWindows.ofSizeAndGrace(60_000, 10_000)).count({ name: 'per-minute' });

const app = new StreamsApp(builder.build(), log, { applicationId: 'bench', stateDir: `${dir}/state` });
const cpuBefore = process.cpuUsage();
const started = performance.now();
let processed = 0;
const done = new Promise<void>((resolve) => {
  app.on('commit', async () => {
    const committed = await log.committedOffsets('bench', [0, 1, 2, 3].map((partition) => ({ topic: 'landing', partition })));
    processed = [...committed.values()].reduce((a, b) => a + b, 0);
    if (processed >= EVENTS) resolve();
  });
});
await app.start();
await done;
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
await app.close();
await log.close();
fs.rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ scenario: 'topology-embedded', events: EVENTS, seconds: Number(seconds.toFixed(2)), eventsPerSecond: Math.round(EVENTS / seconds), cpuMicrosPerEvent: Number(((cpu.user + cpu.system) / EVENTS).toFixed(1)), loadavg1: Number(os.loadavg()[0]!.toFixed(2)) }));

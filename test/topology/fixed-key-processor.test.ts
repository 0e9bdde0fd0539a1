import fs from 'node:fs';
import path from 'node:path';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { jsonSerde, stringSerde } from '../../state/Serde.js';
import type { KeyValueStore } from '../../state/StateStore.js';
import {
  changelogTopicName,
  fixedKeyRecord,
  keyValueStoreBuilder,
  StreamsApp,
  StreamsBuilder,
  type FixedKeyProcessor,
  type FixedKeyProcessorContext,
  type FixedKeyRecord,
} from '../../topology/index.js';
import { jsonValues, readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** Numbers each user's events: a processValues node with a store added through StreamsBuilder.addStateStore. */
class Numbering implements FixedKeyProcessor<string, { id: string }, { id: string; n: number }> {
  private context!: FixedKeyProcessorContext<string, { id: string; n: number }>;
  private counts!: KeyValueStore<string, number>;

  init(context: FixedKeyProcessorContext<string, { id: string; n: number }>): void {
    this.context = context;
    this.counts = context.getStateStore('per-user-counts');
  }

  process(record: FixedKeyRecord<string, { id: string }>): void {
    const n = (this.counts.get(record.key) ?? 0) + 1;
    this.counts.put(record.key, n);
    this.context.forward(fixedKeyRecord(record, { id: record.value.id, n }));
  }
}

describe('StreamsBuilder.addStateStore, processValues with stores, FixedKeyProcessor, markAsPartitioned', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('fixed-key');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a store added on the builder is connected by name, changelogged and survives a restart; keys are unchanged', async () => {
    const topology = () => {
      const builder = new StreamsBuilder();
      builder.addStateStore(keyValueStoreBuilder('per-user-counts', stringSerde, jsonSerde<number>()));
      builder
        .stream<string, { id: string }>('clicks')
        .processValues(() => new Numbering(), { name: 'numbering', stores: ['per-user-counts'] })
        .to('numbered');
      return builder.build();
    };
    expect(topology().describe()).toContain('numbering');
    expect(topology().describe()).toContain('per-user-counts');
    await log.ensureTopic('clicks', { partitions: 2 });
    const clicks = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => ({ topic: 'clicks', key: Buffer.from(`u${(from + i) % 3}`), value: json({ id: `c${from + i}` }) }));
    await log.produce(clicks(0, 9));
    const first = new StreamsApp(topology(), log, { applicationId: 'numbering', stateDir: `${dir}/state-1` });
    await first.start();
    await waitForCaughtUp(first, log, 'numbering', ['clicks']);
    await first.close();
    // A fresh state directory: the counts come back from the changelog.
    expect((await readAll(log, changelogTopicName('numbering', 'per-user-counts'))).length).toBeGreaterThan(0);
    await log.produce(clicks(9, 12));
    const second = new StreamsApp(topology(), log, { applicationId: 'numbering', stateDir: `${dir}/state-2` });
    await second.start();
    await waitForCaughtUp(second, log, 'numbering', ['clicks']);
    await second.close();
    const out = await readAll(log, 'numbered');
    const byUser = new Map<string, number[]>();
    for (const record of out) {
      const value = JSON.parse(record.value!.toString()) as { id: string; n: number };
      const user = record.key!.toString();
      // The key is the input's: c<i> was produced under u<i % 3>.
      expect(user).toBe(`u${Number(value.id.slice(1)) % 3}`);
      byUser.set(user, [...(byUser.get(user) ?? []), value.n]);
    }
    expect(jsonValues<{ n: number }>(out)).toHaveLength(12);
    for (const user of ['u0', 'u1', 'u2']) expect(byUser.get(user)).toEqual([1, 2, 3, 4]);
  });

  test('processValues refuses, at compile time, a processor that forwards a record under another key', () => {
    const rekeying: FixedKeyProcessor<string, number> = {
      init(context) {
        // @ts-expect-error a FixedKeyProcessorContext takes FixedKeyRecords only: a plain record with a new key does not compile
        context.forward({ key: 'other', value: 1, timestamp: 0, headers: {} });
      },
      process: () => undefined,
    };
    expect(typeof rekeying.process).toBe('function');
  });

  test('markAsPartitioned after a key-changing process() spares a groupByKey its repartition topic, and adds no node', () => {
    const build = (marked: boolean) => {
      const builder = new StreamsBuilder();
      const rekeyed = builder.stream<string, { user: string }>('events').selectKey((_key, value) => value.user, { name: 'by-user' });
      (marked ? rekeyed.markAsPartitioned() : rekeyed).groupByKey().count({ name: 'per-user' });
      return builder.build();
    };
    expect(build(false).describe()).toMatch(/repartition/i);
    expect(build(true).describe()).not.toMatch(/repartition/i);
    expect(build(true).allNodes().map((n) => n.name)).toEqual(['KSTREAM-SOURCE-0000000000', 'by-user', 'KSTREAM-AGGREGATE-0000000001']);
  });

  test('nothing in processors/ reaches into builder.topology or constructs a KStream', () => {
    const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../processors');
    const offending: string[] = [];
    const walk = (folder: string) => {
      for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
        const full = path.join(folder, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.endsWith('.ts')) {
          const text = fs.readFileSync(full, 'utf8');
          if (/\.topology\b/.test(text) || /new KStream\b/.test(text)) offending.push(path.relative(root, full));
        }
      }
    };
    walk(root);
    expect(offending).toEqual([]);
  });
});

import fs from 'node:fs';
import { openEmbeddedLog, type EmbeddedLog } from '../../log/embedded/index.js';
import { jsonSerde, type Serde } from '../../state/Serde.js';
import { SerializedValueMemo } from '../../topology/runtime/SerializedValueMemo.js';
import { StreamsApp, StreamsBuilder } from '../../topology/index.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

function countingSerde(): Serde<unknown> & { calls: number } {
  const serde = {
    calls: 0,
    serialize: (value: unknown) => {
      serde.calls++;
      return Buffer.from(JSON.stringify(value));
    },
    deserialize: (bytes: Buffer) => JSON.parse(bytes.toString()) as unknown,
  };
  return serde;
}

describe('SerializedValueMemo', () => {
  test('serializes an object once for consecutive sinks with the same serde, again after clear', () => {
    const memo = new SerializedValueMemo();
    const serde = countingSerde();
    const value = { a: 1 };
    const first = memo.bytesOf(serde, value);
    expect(memo.bytesOf(serde, value)).toBe(first);
    expect(serde.calls).toBe(1);
    memo.clear();
    expect(memo.bytesOf(serde, value).equals(first)).toBe(true);
    expect(serde.calls).toBe(2);
  });

  test('a different object, a different serde or a primitive is serialized anew', () => {
    const memo = new SerializedValueMemo();
    const serde = countingSerde();
    const other = countingSerde();
    const value = { a: 1 };
    memo.bytesOf(serde, value);
    expect(memo.bytesOf(serde, { a: 1 }).toString()).toBe('{"a":1}');
    expect(memo.bytesOf(other, value).toString()).toBe('{"a":1}');
    memo.bytesOf(serde, 5);
    memo.bytesOf(serde, 5);
    expect(serde.calls).toBe(4);
    expect(other.calls).toBe(1);
  });

  test('a key is serialized once for consecutive sinks with the same serde (strings by value), again for another key, serde or after clear', () => {
    const memo = new SerializedValueMemo();
    const serde = countingSerde();
    const other = countingSerde();
    const first = memo.keyBytesOf(serde, 'user_1');
    expect(memo.keyBytesOf(serde, ['user', '1'].join('_'))).toBe(first);
    expect(serde.calls).toBe(1);
    expect(memo.keyBytesOf(other, 'user_1').equals(first)).toBe(true);
    expect(memo.keyBytesOf(serde, 'user_2').toString()).toBe('"user_2"');
    expect(serde.calls).toBe(2);
    memo.clear();
    memo.keyBytesOf(serde, 'user_2');
    expect(serde.calls).toBe(3);
    expect(other.calls).toBe(1);
  });

  test('jsonSerde() is one shared instance, so sinks built apart share the memo', () => {
    expect(jsonSerde<number>()).toBe(jsonSerde<string>());
  });
});

describe('one value to several sinks', () => {
  let dir: string;
  let log: EmbeddedLog;

  beforeEach(async () => {
    dir = tempDir('serialize-once');
    log = await openEmbeddedLog({ dir: `${dir}/log` });
  });

  afterEach(async () => {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('each sink writes the bytes its own serialization would have written', async () => {
    await log.ensureTopic('in', { partitions: 2 });
    const inputs = Array.from({ length: 50 }, (_, n) => ({ user: `u${n % 5}`, n, nested: { tags: ['x', String(n)] } }));
    await log.produce(inputs.map((v) => ({ topic: 'in', key: Buffer.from(v.user), value: Buffer.from(JSON.stringify(v)) })));

    const builder = new StreamsBuilder();
    const serde = countingSerde();
    const enriched = builder.stream<string, { n: number }>('in').mapValues((v) => ({ ...v, seen: true }));
    enriched.to('copy-a');
    enriched.to('copy-b');
    // A sibling that builds a new value between the two JSON sinks and one with its own serde.
    enriched.mapValues((v) => ({ n: v.n })).to('small');
    enriched.to('counted', { valueSerde: serde as unknown as Serde<{ n: number; seen: boolean }> });
    enriched.to('copy-c');
    // Two sinks with one counting key serde: the user id is encoded once per record.
    let keyCalls = 0;
    const keySerde: Serde<string> = { serialize: (key) => (keyCalls++, Buffer.from(key)), deserialize: (bytes) => bytes.toString() };
    enriched.to('keyed-a', { keySerde });
    enriched.to('keyed-b', { keySerde });

    const app = new StreamsApp(builder.build(), log, { applicationId: 'serialize-once', stateDir: `${dir}/state` });
    await app.start();
    await waitForCaughtUp(app, log, 'serialize-once', ['in']);
    await app.close();

    const byN = (topic: Awaited<ReturnType<typeof readAll>>) =>
      new Map(topic.map((r) => [(JSON.parse(r.value!.toString()) as { n: number }).n, r.value!.toString()]));
    const expected = new Map(inputs.map((v) => [v.n, JSON.stringify({ ...v, seen: true })]));
    for (const topic of ['copy-a', 'copy-b', 'copy-c', 'counted']) expect(byN(await readAll(log, topic))).toEqual(expected);
    expect(byN(await readAll(log, 'small'))).toEqual(new Map(inputs.map((v) => [v.n, JSON.stringify({ n: v.n })])));
    expect(serde.calls).toBe(inputs.length);
    for (const topic of ['keyed-a', 'keyed-b', 'copy-a']) {
      const keys = (await readAll(log, topic)).map((r) => `${r.key!.toString()}:${(JSON.parse(r.value!.toString()) as { n: number }).n}`).sort();
      expect(keys).toEqual(inputs.map((v) => `${v.user}:${v.n}`).sort());
    }
    expect(keyCalls).toBe(inputs.length);
  });
});

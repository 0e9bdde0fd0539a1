import { stringSerde } from '../../state/Serde.js';
import { SessionWindows, StreamsBuilder, TimeWindows, WindowedSerdes } from '../../topology/index.js';

const bigEndian = (n: number) => {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64BE(BigInt(n));
  return bytes;
};

describe('WindowedSerdes', () => {
  test('a time-windowed key is the inner key then the window start, as Kafka Streams writes it; the size gives the end back', () => {
    const serde = WindowedSerdes.timeWindowedSerdeFrom(stringSerde, 60_000);
    const bytes = serde.serialize({ key: 'u1', windowStart: 120_000, windowEnd: 180_000 });
    expect(bytes.toString('hex')).toBe(Buffer.concat([Buffer.from('u1'), bigEndian(120_000)]).toString('hex'));
    expect(bytes.toString('hex')).toBe('7531000000000001d4c0');
    expect(serde.deserialize(bytes)).toEqual({ key: 'u1', windowStart: 120_000, windowEnd: 180_000 });
  });

  test('a session-windowed key is the inner key, the session end, then its start', () => {
    const serde = WindowedSerdes.sessionWindowedSerdeFrom(stringSerde);
    const bytes = serde.serialize({ key: 'u1', windowStart: 1000, windowEnd: 5000 });
    expect(bytes.toString('hex')).toBe(Buffer.concat([Buffer.from('u1'), bigEndian(5000), bigEndian(1000)]).toString('hex'));
    expect(serde.deserialize(bytes)).toEqual({ key: 'u1', windowStart: 1000, windowEnd: 5000 });
  });

  test('too short bytes are refused, not misread', () => {
    expect(() => WindowedSerdes.timeWindowedSerdeFrom(stringSerde, 1000).deserialize(Buffer.from('u1'))).toThrow(/at least 8 bytes/);
    expect(() => WindowedSerdes.sessionWindowedSerdeFrom(stringSerde).deserialize(Buffer.alloc(15))).toThrow(/at least 16 bytes/);
  });
});

describe('a windowed key written without a windowed serde fails when the topology is built', () => {
  const windowedCounts = (builder: StreamsBuilder) => builder.stream('views').groupByKey().windowedBy(TimeWindows.ofSizeAndGrace(60_000, 0)).count().toStream();

  test('to() names the sink and the aggregation', () => {
    const builder = new StreamsBuilder();
    expect(() => windowedCounts(builder).to('out', { name: 'counts-out' })).toThrow(/^counts-out: the key is Windowed<K> \(from KSTREAM-WINDOWED-AGGREGATE-\d+\).*WindowedSerdes/);
  });

  test('through filter and mapValues too (the key is still windowed); session windows the same', () => {
    const builder = new StreamsBuilder();
    expect(() => windowedCounts(builder).filter(() => true).mapValues((count) => ({ count })).to('out')).toThrow(/^KSTREAM-SINK-\d+: the key is Windowed<K>/);
    const sessions = builder.stream('views').groupByKey().windowedBy(SessionWindows.ofInactivityGapWithNoGrace(1000)).count().toStream();
    expect(() => sessions.to('out')).toThrow(/from KSTREAM-SESSION-WINDOWED-AGGREGATE-\d+/);
  });

  test('repartition() needs one as well', () => {
    expect(() => windowedCounts(new StreamsBuilder()).repartition({ name: 'again' })).toThrow(/^again-sink: the key is Windowed<K>/);
  });

  test('with a windowed serde, or after mapping the key to a plain one, the topology builds', () => {
    const builder = new StreamsBuilder();
    windowedCounts(builder).to('out-1', { keySerde: WindowedSerdes.timeWindowedSerdeFrom(stringSerde, 60_000) });
    windowedCounts(builder).selectKey((windowed) => `${windowed.key}@${windowed.windowStart}`).to('out-2');
    windowedCounts(builder).repartition({ keySerde: WindowedSerdes.timeWindowedSerdeFrom(stringSerde, 60_000) }).to('out-3', { keySerde: WindowedSerdes.timeWindowedSerdeFrom(stringSerde, 60_000) });
    expect(builder.build().allNodes().filter((node) => node.kind === 'sink').map((node) => (node as { topic: unknown }).topic)).toEqual(
      expect.arrayContaining(['out-1', 'out-2', 'out-3']),
    );
  });
});

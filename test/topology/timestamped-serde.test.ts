import { bufferSerde, jsonSerde, serializeWithPrefix, stringSerde, type Serde } from '../../state/Serde.js';
import { NO_TIMESTAMP, valueAndTimestampSerde } from '../../topology/dsl/TimestampedStores.js';

/** The stored format as it was first written: 0x00 'T', BigInt64 big-endian timestamp, the value's bytes. */
function reference<V>(inner: Serde<V>, value: V, timestamp: number): Buffer {
  const header = Buffer.alloc(10);
  header[1] = 0x54;
  header.writeBigInt64BE(BigInt(timestamp), 2);
  return Buffer.concat([header, inner.serialize(value)]);
}

describe('valueAndTimestampSerde bytes', () => {
  const values: unknown[] = [{ a: 1, text: 'é€😀\u0000"' }, 5, 'x', [1, 2], null, { nested: { deep: [true, false] } }];
  const timestamps = [0, 1, NO_TIMESTAMP, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 1_733_000_000_123, Number.MAX_SAFE_INTEGER, -(2 ** 40) - 7, 2 ** 62];

  test('are those of the original format for every timestamp sign and size, and read back', () => {
    const serde = valueAndTimestampSerde(jsonSerde<unknown>());
    for (const timestamp of timestamps) {
      for (const value of values) {
        const bytes = serde.serialize({ value, timestamp });
        expect(bytes.equals(reference(jsonSerde<unknown>(), value, timestamp))).toBe(true);
        expect(serde.deserialize(bytes)).toEqual({ value, timestamp });
      }
    }
  });

  test('a serde without toText (bytes) gets the same layout', () => {
    const serde = valueAndTimestampSerde(bufferSerde);
    const value = Buffer.from([0, 1, 2, 255]);
    expect(serde.serialize({ value, timestamp: 1_000 }).equals(reference(bufferSerde, value, 1_000))).toBe(true);
  });

  test('a fractional timestamp fails as BigInt refused it; one beyond int64 fails too', () => {
    const serde = valueAndTimestampSerde(jsonSerde<number>());
    expect(() => serde.serialize({ value: 1, timestamp: 1.5 })).toThrow(RangeError);
    expect(() => serde.serialize({ value: 1, timestamp: Number.NaN })).toThrow(RangeError);
    expect(() => serde.serialize({ value: 1, timestamp: 2 ** 63 })).toThrow(/out of range/);
  });
});

describe('serializeWithPrefix', () => {
  test('leaves the prefix for the caller and writes what serialize would, with and without toText', () => {
    for (const [serde, value] of [[jsonSerde<unknown>(), { s: 'ü😀' }], [stringSerde, 'plain ü'], [bufferSerde, Buffer.from([9, 8])]] as Array<[Serde<unknown>, unknown]>) {
      const bytes = serializeWithPrefix(serde, value, 3);
      expect(bytes.subarray(3).equals(serde.serialize(value))).toBe(true);
      expect(bytes.length).toBe(3 + serde.serialize(value).length);
    }
  });
});

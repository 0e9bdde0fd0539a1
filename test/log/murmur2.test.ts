import { murmur2, partitionForKey, toPositive } from '../../log/Murmur2.js';

/*
 * Expected values were produced with real Kafka, not copied from another port:
 *   mvn dependency:get -Dartifact=org.apache.kafka:kafka-clients:4.1.1 (+ org.slf4j:slf4j-api:1.7.36)
 *   a 20-line Java 17 program calling org.apache.kafka.common.utils.Utils.murmur2(key.getBytes(UTF_8))
 *   and Utils.toPositive(h) % n for n = 3, 12, 100 (the same formula as BuiltInPartitioner.partitionForKey).
 * The first six also appear in Kafka's own UtilsTest.testMurmur2 (clients/src/test/.../UtilsTest.java).
 */
const KAFKA_VECTORS: Array<[key: string, hash: number, p3: number, p12: number, p100: number]> = [
  // from Kafka's UtilsTest.testMurmur2 (confirmed with kafka-clients 4.1.1)
  ['21', -973932308, 0, 0, 40],
  ['foobar', -790332482, 0, 6, 66],
  ['a-little-bit-long-string', -985981536, 2, 8, 12],
  ['a-little-bit-longer-string', -1486304829, 2, 11, 19],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971, 2, 5, 77],
  ['abc', 479470107, 0, 3, 7],
  // lengths 0..9: every tail length of the 4-byte loop
  ['', 275646681, 0, 9, 81],
  ['a', -1563381124, 1, 4, 24],
  ['ab', 316155434, 2, 2, 34],
  ['abcd', -1323649548, 2, 8, 0],
  ['abcde', 461995741, 1, 1, 41],
  ['abcdef', 1870650108, 0, 0, 8],
  ['abcdefg', -346467175, 1, 1, 73],
  ['abcdefgh', -955427363, 0, 9, 85],
  ['abcdefghi', -619679810, 0, 6, 38],
  // typical keys of this pipeline (user ids)
  ['user-42', 1459644460, 1, 4, 60],
  ['user-1001', -1052335918, 1, 10, 30],
  // UTF-8 multibyte: bytes >= 0x80 must be treated as unsigned, as Java's `& 0xff` does
  ['ümlaut', -104298453, 2, 11, 95],
  ['日本語キー', 1445825182, 1, 10, 82],
  ['emoji-😀', -1225718728, 1, 4, 20],
  ['ÿ\u0080', 321056892, 0, 0, 92],
];

describe('murmur2 (Kafka Utils.murmur2)', () => {
  it.each(KAFKA_VECTORS)('hashes %j like Kafka', (key, hash) => {
    expect(murmur2(Buffer.from(key, 'utf8'))).toBe(hash);
  });

  it('hashes raw bytes with the sign bit set like Kafka', () => {
    // new byte[]{(byte)0xff, (byte)0x80, 0x00, 0x7f, (byte)0xfe} → 768357719, toPositive % 7 = 3
    const raw = Buffer.from([0xff, 0x80, 0x00, 0x7f, 0xfe]);
    expect(murmur2(raw)).toBe(768357719);
    expect(partitionForKey(raw, 7)).toBe(3);
  });

  it('accepts a plain Uint8Array as well as a Buffer', () => {
    expect(murmur2(new TextEncoder().encode('foobar'))).toBe(-790332482);
  });
});

describe('partitionForKey (Kafka default partitioner)', () => {
  it.each(KAFKA_VECTORS)('puts %j on the partition Kafka picks', (key, _hash, p3, p12, p100) => {
    const bytes = Buffer.from(key, 'utf8');
    expect(partitionForKey(bytes, 3)).toBe(p3);
    expect(partitionForKey(bytes, 12)).toBe(p12);
    expect(partitionForKey(bytes, 100)).toBe(p100);
  });

  it('toPositive masks the sign bit rather than negating', () => {
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(5)).toBe(5);
  });

  it('rejects a non-positive partition count', () => {
    expect(() => partitionForKey(Buffer.from('k'), 0)).toThrow(RangeError);
  });
});

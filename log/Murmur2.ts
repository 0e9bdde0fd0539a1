/**
 * Kafka's default partitioner, bit for bit, so a key lands on the same partition number in the
 * embedded log and in Kafka (org.apache.kafka.common.utils.Utils.murmur2 / toPositive and
 * BuiltInPartitioner.partitionForKey).
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** Murmur2 32-bit hash as Kafka computes it: a signed 32-bit int, like Java's `int`. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;

  for (let i = 0; i < length4; i++) {
    const i4 = i << 2;
    let k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24);
    // Math.imul keeps Java's 32-bit wrap-around multiplication; >>> is Java's unsigned shift.
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }

  // Kafka's tail is a falling-through switch on length % 4; the same as nested ifs.
  const tail = length & ~3;
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= data[tail + 2] << 16;
    if (rest >= 2) h ^= data[tail + 1] << 8;
    h ^= data[tail];
    h = Math.imul(h, M);
  }

  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's Utils.toPositive: clears the sign bit (not Math.abs, which differs for MIN_VALUE). */
export function toPositive(h: number): number {
  return h & 0x7fffffff;
}

/** The partition Kafka's default partitioner picks for a non-null key. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions <= 0) {
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  }
  return toPositive(murmur2(key)) % partitions;
}

/**
 * A Bloom filter of the keys a store holds in RocksDB, by changelog key id (latin1, as in
 * WriteBuffer), so a read of an absent key is answered without crossing into the binding.
 *
 * Why in JS when RocksDB has its own Bloom filters: a point read through @nxtedition/rocksdb
 * costs ~2 µs for a miss even when the key's absence is settled in the memtable, and more with
 * L0 files; most of that is the call itself. Stores read mostly for keys they do not hold (dedupe:
 * every new id; a distinct-member marker: every member's first event in a window) skip the call
 * for ~99% of those misses. A hit, or a false positive (~1% at 10 bits per key), reads RocksDB as
 * before, so the filter never changes an answer.
 *
 * Only ASCII ids are filtered: the store builds the filter from keys the binding decodes as UTF-8
 * (cheaper than Buffers), which equal the latin1 ids for ASCII keys only; for any other id
 * mightContain() answers true and add() does nothing.
 *
 * It may only ever hold more keys than RocksDB, never fewer: every key written to RocksDB is added
 * (flush, restore), deletes are not removed (a Bloom filter cannot), and the store builds it again
 * from key scans when the additions since the last build reach its capacity (the deleted keys
 * then drop out). A build (state/StoreKeyFilter.ts: in slices beside the thread's work) scans the
 * keys twice, ~1 µs per key each, so capacity is REBUILD_FACTOR times the keys found at a build:
 * a store that grows or turns over scans about two thirds of a key per key it adds, for ~5 bytes
 * of filter per stored key (fewer when the memory plan's share is short).
 */
export class KeyFilter {
  private readonly bits: Int32Array;
  private readonly mask: number;
  private added = 0;

  /** capacity: keys it holds at ~1% false positives; it wants a rebuild past that. */
  constructor(readonly capacity: number) {
    const size = bitsFor(capacity);
    this.bits = new Int32Array(size >>> 5);
    this.mask = size - 1;
  }

  /** What a filter of this capacity allocates, bytes (the memory plan's share caps it). */
  static bytesFor(capacity: number): number {
    return bitsFor(capacity) / 8;
  }

  get bytes(): number {
    return this.bits.byteLength;
  }

  /** Adds id.slice(start) (a key scan's keys carry their keyspace byte first). */
  add(id: string, start = 0): void {
    let h1 = hash(id, start);
    if (!ascii) return;
    const h2 = second | 1;
    for (let i = 0; i < PROBES; i++) {
      const bit = h1 & this.mask;
      this.bits[bit >>> 5] |= 1 << (bit & 31);
      h1 = (h1 + h2) | 0;
    }
    this.added++;
  }

  /** false: the key is certainly not in RocksDB. */
  mightContain(id: string): boolean {
    let h1 = hash(id, 0);
    if (!ascii) return true;
    const h2 = second | 1;
    for (let i = 0; i < PROBES; i++) {
      const bit = h1 & this.mask;
      if ((this.bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
      h1 = (h1 + h2) | 0;
    }
    return true;
  }

  /** More keys were added than it was sized for: its false positives grow, time to rebuild. */
  get full(): boolean {
    return this.added > this.capacity;
  }
}

const BITS_PER_KEY = 10;

/**
 * A power of two of at least 10 bits per key, so a probe masks instead of dividing; at most
 * MAX_BITS (more keys than that sizes for then only raise the false positives).
 */
function bitsFor(capacity: number): number {
  let size = 1 << 16;
  while (size < capacity * BITS_PER_KEY && size < MAX_BITS) size *= 2;
  return size;
}
/**
 * Most bits a filter has (256 MB, from ~214 million keys of capacity on): a probe's bit index
 * (h1 & mask) must stay a non-negative int32, and at 2^32 bits `size >>> 5` wraps to an empty
 * array, whose every probe reads as unset: a false negative for every key.
 */
const MAX_BITS = 2 ** 31;
/** ln 2 × 10 bits per key ≈ 7 probes: ~0.8% false positives at capacity. */
const PROBES = 7;
/** Fewest keys a filter is sized for: a rebuild of a small store must not follow every few writes. */
export const MIN_KEY_FILTER_CAPACITY = 4096;
/** A filter is built for this many times the keys the store holds (see the class comment). */
export const REBUILD_FACTOR = 4;

/** hash()'s second hash, for double hashing, and whether the id was ASCII (module variables: nothing allocated per call). */
let second = 0;
let ascii = true;

/**
 * Two independent 32-bit hashes of id.slice(start) in one pass over its chars: FNV-1a, and a
 * multiply-xorshift with another seed, each through murmur3's finaliser. Returns the first; the
 * second is left in `second`, and in `ascii` whether every char was below 0x80.
 */
function hash(id: string, start: number): number {
  let a = 0x811c9dc5;
  let b = 0x9747b28c ^ (id.length - start);
  let high = 0;
  for (let i = start; i < id.length; i++) {
    const c = id.charCodeAt(i);
    high |= c;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b + c, 0x5bd1e995) ^ (b >>> 15);
  }
  ascii = high < 0x80;
  second = fmix(b);
  return fmix(a);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

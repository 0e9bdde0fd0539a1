import { randomBytes } from 'node:crypto';

/**
 * A fixed-capacity set of ids with expiries, for MemoryIdempotencyStore's generations.
 *
 * Why not a Map<string, number>: at 300k ids/s the Map was the ingress batch path's largest
 * self-time entry (hashing each fresh id string, growing the table, one heap object per entry
 * for the GC to trace). Here an id is reduced to a 64-bit hash (two independent 32-bit string
 * hashes) and the table is two typed arrays with linear probing: nothing for the GC to trace,
 * and no id string is retained.
 *
 * Two different ids share a hash (63 bits: one is forced odd) with probability ~2^-63 per pair; at the default 200k
 * ids per namespace a false "duplicate" is expected about once in 10^14 claims. Ids are scoped
 * by user (and ingest key) before they are hashed (IngestCore's idempotencyId), so one client
 * cannot simply send another's id; and the hashes are seeded per process, so it cannot compute
 * offline a different id that collides with another user's either.
 */
export class IdHashTable {
  private readonly mask: number;
  /** low, high of slot i at 2i, 2i + 1: one cache line holds both halves of a probe. */
  private readonly hashes: Int32Array;
  private readonly expiries: Float64Array;
  /** Entries written (released ones included: they keep their slot until the table is cleared). */
  size = 0;

  /** Room for `entries` ids at a load of at most 1/2, so a miss probes a couple of slots. */
  constructor(readonly entries: number) {
    let capacity = 8;
    while (capacity < entries * 2) capacity *= 2;
    this.mask = capacity - 1;
    this.hashes = new Int32Array(capacity * 2);
    this.expiries = new Float64Array(capacity);
  }

  /** The slot holding (high, low), or -1 - the free slot where it would go. */
  private find(high: number, low: number): number {
    let slot = (high ^ Math.imul(low, 0x9e3779b1)) & this.mask;
    for (;;) {
      const l = this.hashes[slot * 2]!;
      if (l === 0) return -1 - slot; // low is never 0 for a stored id (see hashId)
      if (l === low && this.hashes[slot * 2 + 1] === high) return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  /** The expiry stored for the hash, or undefined. */
  get(high: number, low: number): number | undefined {
    const slot = this.find(high, low);
    return slot >= 0 ? this.expiries[slot] : undefined;
  }

  /** Inserts or updates; the caller keeps size below `entries` (the generation swap does). */
  set(high: number, low: number, expiry: number): void {
    let slot = this.find(high, low);
    if (slot < 0) {
      slot = -1 - slot;
      this.hashes[slot * 2] = low;
      this.hashes[slot * 2 + 1] = high;
      this.size++;
    }
    this.expiries[slot] = expiry;
  }

  /** Forgets an id by expiring it: removing it from a linear-probing chain would need a rehash. */
  expire(high: number, low: number): void {
    const slot = this.find(high, low);
    if (slot >= 0) this.expiries[slot] = 0;
  }

  clear(): void {
    this.hashes.fill(0);
    this.expiries.fill(0);
    this.size = 0;
  }
}

/** Murmur3's finaliser: spreads every input bit over the 32 output bits. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Per-process seeds (see the class comment): the hashes are never stored or compared across processes. */
const SEED_A = randomBytes(4).readInt32LE(0);
const SEED_B = randomBytes(4).readInt32LE(0);

/** Result of hashId; reused so the hot path allocates nothing. */
export const idHash = { high: 0, low: 0 };

/**
 * Two independent 32-bit hashes of the string (FNV-1a and a multiply-rotate hash with another
 * seed), each finalised, into idHash. low is forced odd so that 0 marks a free slot.
 */
export function hashId(id: string): void {
  let a = 0x811c9dc5 ^ SEED_A;
  let b = 0x5bd1e995 ^ SEED_B ^ id.length;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0xcc9e2d51);
    b = (b << 15) | (b >>> 17);
  }
  idHash.high = mix(a);
  idHash.low = mix(b) | 1;
}

/**
 * The caching layer: writes since the last commit, held in memory. Reads look here first, so a
 * processor sees its own writes at once while RocksDB only ever holds committed data.
 *
 * Two generations, because the commit is split in two steps (see StoreLifecycle):
 * - pending: written since the last drainChangelog;
 * - drained: went into a changelog transaction and waits for flush to land in RocksDB.
 * Writes made after a drain stay pending for the next commit; a flush writes only what was
 * drained (what the committed changelog holds), so the checkpoint written with it is exact.
 *
 * Entries are keyed by the key's bytes as a latin1 string: one char per byte, so JS string
 * order is byte order, the order RocksDB scans in.
 */
export interface BufferedWrite {
  key: Buffer;
  /** null: a delete (a tombstone in the changelog). */
  value: Buffer | null;
  /**
   * The value object the bytes were serialized from, when the store kept it: reads of a buffered
   * key return it instead of deserializing the bytes again (an aggregation fetches and puts the
   * same few windows for every record between two commits). Never mutated (state/Serde.ts).
   */
  object?: unknown;
  /** Written to RocksDB at flush but left out of the changelog (IndexedKeyValueStore.putUnlogged). */
  unlogged?: true;
}

export class WriteBuffer {
  private pending = new Map<string, BufferedWrite>();
  private drained = new Map<string, BufferedWrite>();

  write(key: Buffer, value: Buffer | null, object?: unknown): void {
    this.writeId(key.toString('latin1'), key, value, object);
  }

  /** A write for RocksDB only: drain() leaves it out of the changelog records, flush writes it. */
  writeUnlogged(key: Buffer, value: Buffer | null): void {
    this.pending.set(key.toString('latin1'), { key, value, unlogged: true });
  }

  /** write() by the key's latin1 id, for callers that already computed it. */
  writeId(id: string, key: Buffer, value: Buffer | null, object?: unknown): void {
    // A key keeps the position of its first write since the drain: order across keys does not
    // matter to a compacted changelog, and re-inserting would cost a second map operation.
    this.pending.set(id, object === undefined ? { key, value } : { key, value, object });
  }

  /** The newest buffered write of key; undefined when the key is not buffered at all. */
  lookup(key: Buffer): BufferedWrite | undefined {
    return this.lookupId(key.toString('latin1'));
  }

  /** lookup() by the key's latin1 id, for callers that already computed it. */
  lookupId(id: string): BufferedWrite | undefined {
    return this.pending.get(id) ?? this.drained.get(id);
  }

  /**
   * Hands the pending writes (last write per key; unlogged ones excepted) to the changelog and
   * keeps them all, as drained, until flush. Draining twice before a flush merges into one
   * drained generation.
   */
  drain(): BufferedWrite[] {
    const out: BufferedWrite[] = [];
    for (const write of this.pending.values()) if (write.unlogged === undefined) out.push(write);
    if (this.drained.size === 0) {
      // The usual case (each commit flushes what it drained): the pending map becomes the
      // drained one as it is, instead of two map operations per write.
      this.drained = this.pending;
    } else {
      for (const [id, write] of this.pending) {
        this.drained.delete(id);
        this.drained.set(id, write);
      }
    }
    this.pending = new Map();
    return out;
  }

  /** The drained writes for flush, which now owns them. */
  takeDrained(): BufferedWrite[] {
    const out = [...this.drained.values()];
    this.drained = new Map();
    return out;
  }

  /** Drops a drained write (window retention expired it before it reached disk). */
  forget(key: Buffer): void {
    const id = key.toString('latin1');
    this.pending.delete(id);
    this.drained.delete(id);
  }

  /** Newest write per key among the keys that pass the filter, in byte order of the key. */
  sorted(filter: (key: Buffer) => boolean): BufferedWrite[] {
    return this.collectSorted((_id, write) => filter(write.key));
  }

  /**
   * Newest write per key with lo <= key <= hi, in byte order. Compares the latin1 ids, which
   * order as the bytes do, instead of calling Buffer.compare twice per buffered key: range reads
   * (dedupe expiry scans) run against buffers of thousands of keys.
   */
  sortedRange(lo: Buffer, hi: Buffer): BufferedWrite[] {
    const loId = lo.toString('latin1');
    const hiId = hi.toString('latin1');
    return this.collectSorted((id) => id >= loId && id <= hiId);
  }

  private collectSorted(keep: (id: string, write: BufferedWrite) => boolean): BufferedWrite[] {
    const merged = new Map<string, BufferedWrite>();
    for (const generation of [this.drained, this.pending]) {
      for (const [id, write] of generation) if (keep(id, write)) merged.set(id, write);
    }
    return [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, write]) => write);
  }

  get size(): number {
    return this.pending.size + this.drained.size;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  clear(): void {
    this.pending = new Map();
    this.drained = new Map();
  }
}

/**
 * Merges a RocksDB scan with buffered writes, both in key order: buffered writes win, buffered
 * deletes hide the stored entry. Stored keys are given without their keyspace byte.
 */
export function* overlay(stored: Iterable<[Buffer, Buffer]>, buffered: BufferedWrite[]): Generator<[Buffer, Buffer]> {
  let i = 0;
  for (const [key, value] of stored) {
    while (i < buffered.length && Buffer.compare(buffered[i].key, key) < 0) {
      const write = buffered[i++];
      if (write.value !== null) yield [write.key, write.value];
    }
    if (i < buffered.length && buffered[i].key.equals(key)) {
      const write = buffered[i++];
      if (write.value !== null) yield [write.key, write.value];
      continue;
    }
    yield [key, value];
  }
  for (; i < buffered.length; i++) {
    const write = buffered[i];
    if (write.value !== null) yield [write.key, write.value];
  }
}

/**
 * How one store lays out its RocksDB: a one-byte keyspace prefix in front of every key, so the
 * data and the checkpoint share one database (and therefore one atomic write batch) without
 * colliding, and a scan of the data never meets a checkpoint.
 */
export const enum Keyspace {
  /** Checkpoint and other store metadata. */
  Meta = 0x00,
  /** The entries, keyed by their changelog key. */
  Data = 0x01,
  /** Window stores: the (windowStart, key) index used by fetchAll and retention. */
  TimeIndex = 0x02,
}

export function inKeyspace(keyspace: Keyspace, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(key.length + 1);
  out[0] = keyspace;
  key.copy(out, 1);
  return out;
}

/** Scan bounds covering a whole keyspace. */
export function keyspaceRange(keyspace: Keyspace): { gte: Buffer; lt: Buffer } {
  return { gte: Buffer.from([keyspace]), lt: Buffer.from([keyspace + 1]) };
}

/** The changelog offset the data corresponds to: the next changelog offset to restore from. */
export const CHECKPOINT_KEY = inKeyspace(Keyspace.Meta, Buffer.from('checkpoint'));
/** Window stores: the stream time the data was flushed at (expired windows are gone below it). */
export const STREAM_TIME_KEY = inKeyspace(Keyspace.Meta, Buffer.from('stream_time'));

export function encodeNumber(value: number): Buffer {
  return Buffer.from(String(value), 'utf8');
}

export function decodeNumber(bytes: Buffer | undefined): number | undefined {
  if (bytes === undefined) return undefined;
  const value = Number(bytes.toString('utf8'));
  if (!Number.isFinite(value)) throw new Error(`corrupt store metadata value "${bytes.toString('utf8')}"`);
  return value;
}

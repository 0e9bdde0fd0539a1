/**
 * Turns values into the bytes the log and the stores hold, and back.
 *
 * Serialization must be a pure function of the value: the runtime may serialize a value once
 * and send the same bytes to several sinks (see topology/runtime/SerializedValueMemo.ts), and
 * stores keep a put value object beside its bytes for reads until the commit. So a value handed
 * to forward() or to a store's put() belongs to the runtime from then on: processors build a new
 * value instead of mutating one they forwarded or stored (the rule Kafka Streams states for its
 * record cache).
 */
export interface Serde<T> {
  serialize(value: T): Buffer;
  deserialize(bytes: Buffer): T;
  /**
   * When present, serialize(value) is exactly the UTF-8 of toText(value): a caller that adds
   * bytes of its own (serializeWithPrefix) writes the text straight into its buffer instead of
   * copying a serialized one.
   */
  toText?(value: T): string;
}

export const stringSerde: Serde<string> = {
  serialize: (value) => Buffer.from(value, 'utf8'),
  deserialize: (bytes) => bytes.toString('utf8'),
  toText: (value) => value,
};

const JSON_SERDE: Serde<unknown> = {
  serialize: (value) => Buffer.from(JSON.stringify(value), 'utf8'),
  deserialize: (bytes) => JSON.parse(bytes.toString('utf8')),
  toText: (value) => JSON.stringify(value),
};

/**
 * serde.serialize(value) after `prefixLength` bytes left for the caller to fill, in one buffer:
 * for a text serde the UTF-8 is written there directly (no intermediate buffer, no copy).
 */
export function serializeWithPrefix<T>(serde: Serde<T>, value: T, prefixLength: number): Buffer {
  if (serde.toText !== undefined) {
    const text = serde.toText(value);
    const out = Buffer.allocUnsafe(prefixLength + Buffer.byteLength(text, 'utf8'));
    out.write(text, prefixLength, 'utf8');
    return out;
  }
  const body = serde.serialize(value);
  const out = Buffer.allocUnsafe(prefixLength + body.length);
  body.copy(out, prefixLength);
  return out;
}

/** One shared instance, so sinks can tell that two of them would write the same bytes for a value. */
export function jsonSerde<T>(): Serde<T> {
  return JSON_SERDE as Serde<T>;
}

export const bufferSerde: Serde<Buffer> = {
  serialize: (value) => value,
  deserialize: (bytes) => bytes,
};

import type { Serde } from '../../state/Serde.js';

/**
 * The bytes of the key and the value a sink serialized last, so the next sink handed the same
 * key or value with the same serde reuses them. The default pipeline sends one event object to
 * its route topics (user.attempts, ml.training_events, ...) and then to events.clean, one sink
 * after the other, under one key (the user id): without this each of them ran JSON.stringify
 * over the whole enriched event and encoded the key again.
 *
 * Safe because serialization is a pure function of the value and values forwarded are not
 * mutated afterwards (the rules in state/Serde.ts), and kept to one entry each that the task
 * clears after each record and punctuation: identity can only match within the processing of
 * one input, and nothing is kept alive past it. Output buffers are never written to once made,
 * so two records may share one.
 */
export class SerializedValueMemo {
  private value: unknown = undefined;
  private serde: Serde<unknown> | undefined;
  private bytes: Buffer | undefined;
  private key: unknown = undefined;
  private keySerde: Serde<unknown> | undefined;
  private keyBytes: Buffer | undefined;

  bytesOf(serde: Serde<unknown>, value: unknown): Buffer {
    // Primitives are cheap to serialize and equal by value, not identity: not memoized.
    if (value === this.value && serde === this.serde && typeof value === 'object') return this.bytes!;
    const bytes = serde.serialize(value);
    this.value = value;
    this.serde = serde;
    this.bytes = bytes;
    return bytes;
  }

  /** A key's bytes: the same key (a string equal by value, an object by identity) with the same serde is serialized once. */
  keyBytesOf(serde: Serde<unknown>, key: unknown): Buffer {
    if (key === this.key && serde === this.keySerde && this.keyBytes !== undefined) return this.keyBytes;
    const bytes = serde.serialize(key);
    this.key = key;
    this.keySerde = serde;
    this.keyBytes = bytes;
    return bytes;
  }

  clear(): void {
    this.value = undefined;
    this.serde = undefined;
    this.bytes = undefined;
    this.key = undefined;
    this.keySerde = undefined;
    this.keyBytes = undefined;
  }
}

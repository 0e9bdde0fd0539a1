import type { Serde } from '../../state/Serde.js';

/**
 * The bytes of the value a sink serialized last, so the next sink handed the same object with
 * the same serde reuses them. The default pipeline sends one event object to its route topics
 * (user.attempts, ml.training_events, ...) and then to events.clean, one sink after the other:
 * without this each of them ran JSON.stringify over the whole enriched event.
 *
 * Safe because values forwarded are not mutated afterwards (the rule in state/Serde.ts), and
 * kept to one entry that the task clears after each record and punctuation: identity can only
 * match within the processing of one input, and no value is kept alive past it.
 */
export class SerializedValueMemo {
  private value: unknown = undefined;
  private serde: Serde<unknown> | undefined;
  private bytes: Buffer | undefined;

  bytesOf(serde: Serde<unknown>, value: unknown): Buffer {
    // Primitives are cheap to serialize and equal by value, not identity: not memoized.
    if (value === this.value && serde === this.serde && typeof value === 'object') return this.bytes!;
    const bytes = serde.serialize(value);
    this.value = value;
    this.serde = serde;
    this.bytes = bytes;
    return bytes;
  }

  clear(): void {
    this.value = undefined;
    this.serde = undefined;
    this.bytes = undefined;
  }
}

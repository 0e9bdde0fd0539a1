import type { Serde } from '../../state/Serde.js';

/**
 * An update of a table as it travels through a groupBy's repartition topic (Kafka Streams'
 * Change<V> with its ChangedSerializer): the new value and the value it replaced, either absent.
 */
export interface Change<V> {
  newValue: V | null;
  oldValue: V | null;
}

const ABSENT = 0xffffffff;

/**
 * Bytes: the new value's length as a uint32 (0xffffffff when absent) and its bytes, then the old
 * value's bytes (the rest; a lone marker byte 0x00 when absent so that an empty old value and no
 * old value differ).
 */
export function changeSerde<V>(inner: Serde<V>): Serde<Change<V>> {
  return {
    serialize: ({ newValue, oldValue }) => {
      const length = Buffer.allocUnsafe(4);
      const newBytes = newValue === null || newValue === undefined ? undefined : inner.serialize(newValue);
      length.writeUInt32BE(newBytes ? newBytes.length : ABSENT, 0);
      const oldBytes = oldValue === null || oldValue === undefined ? Buffer.from([0x00]) : Buffer.concat([Buffer.from([0x01]), inner.serialize(oldValue)]);
      return Buffer.concat([length, newBytes ?? Buffer.alloc(0), oldBytes]);
    },
    deserialize: (bytes) => {
      const newLength = bytes.readUInt32BE(0);
      const newValue = newLength === ABSENT ? null : inner.deserialize(bytes.subarray(4, 4 + newLength));
      const oldAt = 4 + (newLength === ABSENT ? 0 : newLength);
      const oldValue = bytes[oldAt] === 0x01 ? inner.deserialize(bytes.subarray(oldAt + 1)) : null;
      return { newValue, oldValue };
    },
  };
}

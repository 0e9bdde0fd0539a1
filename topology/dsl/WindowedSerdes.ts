import { sessionKeySerde } from '../../state/RocksDBSessionStore.js';
import type { Serde } from '../../state/Serde.js';
import type { Windowed } from './TimeWindows.js';

/**
 * Serdes for windowed keys, byte for byte Kafka Streams' WindowedSerdes, so a topic written here
 * reads in Kafka Streams and the other way round:
 * - time windows (TimeWindowedSerializer): the inner key's bytes, then the window start as a
 *   big-endian int64; the end is not written, so the reader must know the window size;
 * - session windows (SessionWindowedSerializer, SessionKeySchema): the inner key's bytes, then
 *   the session end, then its start, each a big-endian int64.
 */
export const WindowedSerdes = {
  timeWindowedSerdeFrom<K>(inner: Serde<K>, windowSizeMs: number): Serde<Windowed<K>> {
    if (!(windowSizeMs > 0)) throw new RangeError(`timeWindowedSerdeFrom: window size must be positive, got ${windowSizeMs}`);
    return {
      serialize: (windowed) => {
        const key = inner.serialize(windowed.key);
        const out = Buffer.allocUnsafe(key.length + 8);
        key.copy(out, 0);
        out.writeBigInt64BE(BigInt(windowed.windowStart), key.length);
        return out;
      },
      deserialize: (bytes) => {
        if (bytes.length < 8) throw new Error(`a time-windowed key needs at least 8 bytes, got ${bytes.length}`);
        const windowStart = Number(bytes.readBigInt64BE(bytes.length - 8));
        // Kafka Streams caps the end at Long.MAX_VALUE; a JS number cannot hold it exactly anyway.
        return { key: inner.deserialize(bytes.subarray(0, bytes.length - 8)), windowStart, windowEnd: windowStart + windowSizeMs };
      },
    };
  },

  sessionWindowedSerdeFrom<K>(inner: Serde<K>): Serde<Windowed<K>> {
    return sessionKeySerde(inner);
  },
};

const MISSING = Symbol('windowed key without a serde');

/**
 * The key serde a windowed aggregation's table and stream carry: none. A sink or repartition
 * that would fall back to it fails when the topology is built (requireKeySerde), instead of
 * every record failing to serialize at run time.
 */
export function windowedKeyWithoutSerde<K>(aggregationNode: string): Serde<K> {
  const fail = (): never => {
    throw new Error(`windowed key of ${aggregationNode} has no serde: give one with WindowedSerdes`);
  };
  return Object.assign({ serialize: fail, deserialize: fail }, { [MISSING]: aggregationNode }) as Serde<K>;
}

/** Throws, naming the node being added, when its key serde is a windowed key's missing one. */
export function requireKeySerde<K>(serde: Serde<K>, node: string): Serde<K> {
  const aggregation = (serde as unknown as Record<symbol, string | undefined>)[MISSING];
  if (aggregation !== undefined) {
    throw new Error(
      `${node}: the key is Windowed<K> (from ${aggregation}) and no key serde was given; ` +
        'pass keySerde: WindowedSerdes.timeWindowedSerdeFrom(inner, windowSizeMs) or WindowedSerdes.sessionWindowedSerdeFrom(inner), ' +
        'or map the key to a plain one (selectKey) first',
    );
  }
  return serde;
}

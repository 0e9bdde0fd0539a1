import { jsonSerde, type Serde } from '../../state/Serde.js';
import { KTable } from './KTable.js';
import { keyValueStoreBuilder } from './MaterializedStores.js';
import type { Suppressed } from './Suppressed.js';
import { bufferedUpdateSerde, orderBytes, sessionOrderBytes, SuppressProcessor } from './SuppressProcessor.js';
import type { Windowed } from './TimeWindows.js';

/**
 * KTableImpl.suppress: a KTABLE-SUPPRESS node with its buffer store (changelogged, so buffered
 * updates survive a restart). untilWindowCloses finds the grace of the windowed aggregation
 * that feeds it, as Kafka Streams' findAndVerifyWindowGrace walks the graph, and fails at build
 * time when the table is not a windowed aggregation's.
 */
export function suppressTable<K, V>(table: KTable<K, V>, suppressed: Suppressed): KTable<K, V> {
  const { topology, names } = table.builder;
  const name = suppressed.name ?? names.next('KTABLE-SUPPRESS');
  const storeName = `${name}-STORE`;
  // The buffer's changelog holds keys as JSON: a windowed table's key serde may be missing (WindowedSerdes).
  const keySerde = jsonSerde<K>();
  const valueSerde: Serde<V> = table.valueSerde ?? jsonSerde<V>();
  const updates = bufferedUpdateSerde(valueSerde);
  const sizeOf = (key: K, update: Parameters<typeof updates.serialize>[0]) => keySerde.serialize(key).length + updates.serialize(update).length;
  const { buffer } = suppressed;
  const supplier =
    suppressed.kind === 'untilWindowCloses'
      ? (({ graceMs, sessions }: WindowClose) => () =>
          new SuppressProcessor<K, V>(storeName, (key) => (key as unknown as Windowed<unknown>).windowEnd, graceMs, buffer, true, sizeOf, sessions ? sessionOrderBytes : orderBytes))(
          windowCloseOf(table),
        )
      : () => new SuppressProcessor<K, V>(storeName, (_key, timestamp) => timestamp, suppressed.timeLimitMs, buffer, false, sizeOf);
  topology.addProcessor(name, supplier, table.nodeName);
  topology.addStateStore(keyValueStoreBuilder(storeName, keySerde, updates), name);
  return new KTable<K, V>(table.builder, name, table.storeName, table.keySerde, table.valueSerde);
}

/**
 * The grace of the windowed aggregation whose node is the table's: read from its processor's
 * windows. For session windows it is grace + inactivity gap, as Kafka Streams' GraphGraceSearchUtil
 * gives it: until then a later record may still extend (merge into) a session that has ended.
 */
function windowCloseOf(table: KTable<unknown, unknown>): WindowClose {
  const node = table.builder.topology.node(table.nodeName);
  const processor = node && node.kind === 'processor' ? (node.supplier() as unknown as { windows?: { graceMs?: unknown; inactivityGapMs?: unknown } }) : undefined;
  const graceMs = processor?.windows?.graceMs;
  if (typeof graceMs !== 'number') {
    throw new Error(`${table.nodeName}: suppress(untilWindowCloses) needs a windowed aggregation's table (its window grace decides when a window closes)`);
  }
  const inactivityGapMs = processor?.windows?.inactivityGapMs;
  return typeof inactivityGapMs === 'number' ? { graceMs: graceMs + inactivityGapMs, sessions: true } : { graceMs, sessions: false };
}

/** When the windows of a suppressed table close (grace after the window end) and whether they are sessions. */
interface WindowClose {
  graceMs: number;
  sessions: boolean;
}

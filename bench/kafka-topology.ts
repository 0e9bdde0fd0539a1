/**
 * Our contender in the Kafka bench (bench/scenarios/kafka.ts): the same work as the Kafka Streams
 * peer (bench/peer/), built with our DSL on the KafkaLog, exactly-once, in its own process so it
 * shares an event loop with neither the bench nor the JVM.
 *
 *   landing (key = user, value = JSON {id, user, correct, ts, sentAt?})
 *     -> dedupe by id (Processor API, persistent RocksDB key-value store "seen-ids", changelogged)
 *     -> output topic (the deduped events, JSON)
 *     -> groupByKey, tumbling 1-minute windows with 10 s grace, count() into "per-minute"
 *
 * The dedupe keeps the key, so its stream is grouped without a repartition topic (the peer uses
 * processValues for that; our DSL has no processValues, so the stream is rebuilt on the node with
 * "no repartition needed", which is what processValues means).
 *
 *   node --import tsx bench/kafka-topology.ts bootstrap=... input=... output=... application.id=... state.dir=... [commit.interval.ms=100]
 * Prints "state RUNNING" once started; stops cleanly on SIGTERM or when stdin closes.
 */
import { readKafkaConfig } from '../log/kafka/kafka-config.js';
import { openKafkaLog } from '../log/kafka/KafkaLog.js';
import type { KeyValueStore } from '../state/StateStore.js';
import { jsonSerde, stringSerde } from '../state/Serde.js';
import { StreamsApp, StreamsBuilder, TimeWindows, keyValueStoreBuilder, type Processor, type ProcessorContext, type StreamRecord } from '../topology/index.js';

interface LandingEvent {
  id: string;
  user: string;
  correct: boolean;
  ts: number;
  sentAt?: number;
}

const settings = new Map(process.argv.slice(2).map((arg) => [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] as [string, string]));
function setting(key: string, fallback?: string): string {
  const value = settings.get(key) ?? fallback;
  if (value === undefined) throw new Error(`missing setting ${key}=...`);
  return value;
}

class Dedupe implements Processor<string, LandingEvent> {
  private context!: ProcessorContext<string, LandingEvent>;
  private seen!: KeyValueStore<string, number>;
  init(context: ProcessorContext<string, LandingEvent>): void {
    this.context = context;
    this.seen = context.getStateStore('seen-ids');
  }
  process(record: StreamRecord<string, LandingEvent>): void {
    const id = record.value?.id;
    if (id === undefined || this.seen.get(id) !== undefined) return;
    this.seen.put(id, record.timestamp);
    this.context.forward(record);
  }
}

const kafka = readKafkaConfig({ ...process.env, KAFKA_BROKERS: setting('bootstrap') })!;
const log = await openKafkaLog({ ...kafka, clientId: 'bench-ours' });
const builder = new StreamsBuilder();
const landing = builder.stream<string, LandingEvent>(setting('input'), { keySerde: stringSerde, valueSerde: jsonSerde<LandingEvent>() });
// processValues: the key stays, so the windowed count needs no repartition topic (like the peer's processValues).
const deduped = landing.processValues(() => new Dedupe(), { name: 'dedupe' });
builder.topology.addStateStore(keyValueStoreBuilder('seen-ids', stringSerde, jsonSerde<number>()), 'dedupe');
deduped.to(setting('output'));
deduped.groupByKey().windowedBy(TimeWindows.ofSizeAndGrace(60_000, 10_000)).count({ name: 'per-minute' });

const app = new StreamsApp(builder.build(), log, {
  applicationId: setting('application.id'),
  stateDir: setting('state.dir'),
  commitIntervalMs: Number(setting('commit.interval.ms', '100')),
});
let stopping: Promise<void> | undefined;
const stop = (code: number) =>
  (stopping ??= (async () => {
    await app.close().catch((error: unknown) => console.error(error));
    await log.close().catch(() => undefined);
    process.exit(code);
  })());
app.on('error', (error: Error) => {
  console.error(`ours: topology failed: ${error.stack ?? error.message}`);
  void stop(1);
});
process.on('SIGTERM', () => void stop(0));
// The bench holds stdin open; EOF means it is gone.
process.stdin.on('end', () => void stop(0));
process.stdin.resume();
await app.start();
console.log('state RUNNING');

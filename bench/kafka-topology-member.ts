/**
 * One member of our contender in the Kafka bench: the dedupe + 1-minute count topology as one
 * StreamsApp on its own KafkaLog (its own consumer and transactional producer), a member of the
 * consumer group `application.id`. bench/kafka-topology.ts runs one in its own thread (threads=1)
 * or one per worker thread (threads=N, bench/kafka-topology-thread.ts), as Kafka Streams runs one
 * StreamThread per num.stream.threads.
 *
 *   landing (key = user, value = JSON {id, user, correct, ts, sentAt?})
 *     -> dedupe by id (Processor API, persistent RocksDB key-value store "seen-ids", changelogged)
 *     -> output topic (the deduped events, JSON)
 *     -> groupByKey, tumbling 1-minute windows with 10 s grace, count() into "per-minute"
 *
 * The dedupe keeps the key (processValues, as the peer's), so its stream is grouped without a
 * repartition topic.
 */
import { readKafkaConfig } from '../log/kafka/KafkaConfig.js';
import { openKafkaLog } from '../log/kafka/KafkaLog.js';
import type { Log } from '../log/Log.js';
import type { KeyValueStore } from '../state/StateStore.js';
import { jsonSerde, stringSerde } from '../state/Serde.js';
import { StreamsApp, type CommitEvent, StreamsBuilder, TimeWindows, keyValueStoreBuilder, type FixedKeyProcessor, type FixedKeyProcessorContext, type FixedKeyRecord } from '../topology/index.js';

interface LandingEvent {
  id: string;
  user: string;
  correct: boolean;
  ts: number;
  sentAt?: number;
}

export interface MemberSettings {
  bootstrap: string;
  input: string;
  output: string;
  applicationId: string;
  stateDir: string;
  commitIntervalMs: number;
  /** Names this member's clients and global store directory; the transactional id stays random per start. */
  memberName: string;
}

/** key=value arguments (as the peer takes them) into a lookup that fails on a missing key. */
export function parseSettings(argv: string[]): (key: string, fallback?: string) => string {
  const settings = new Map(argv.map((arg) => [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] as [string, string]));
  return (key, fallback) => {
    const value = settings.get(key) ?? fallback;
    if (value === undefined) throw new Error(`missing setting ${key}=...`);
    return value;
  };
}

class Dedupe implements FixedKeyProcessor<string, LandingEvent> {
  private context!: FixedKeyProcessorContext<string, LandingEvent>;
  private seen!: KeyValueStore<string, number>;
  init(context: FixedKeyProcessorContext<string, LandingEvent>): void {
    this.context = context;
    this.seen = context.getStateStore('seen-ids');
  }
  process(record: FixedKeyRecord<string, LandingEvent>): void {
    const id = record.value?.id;
    if (id === undefined || this.seen.get(id) !== undefined) return;
    this.seen.put(id, record.timestamp);
    this.context.forward(record);
  }
}

export interface Member {
  app: StreamsApp;
  /** Closes the app (its last commit) and then its log. Safe to call twice. */
  close(): Promise<void>;
}

/** Builds the topology and starts it; resolves once the StreamsApp runs (it may not have its partitions yet). */
export async function startMember(settings: MemberSettings, onError: (error: Error) => void): Promise<Member> {
  const kafka = readKafkaConfig({ ...process.env, KAFKA_BROKERS: settings.bootstrap })!;
  const log: Log = await openKafkaLog({ ...kafka, clientId: `bench-ours-${settings.memberName}` });
  const builder = new StreamsBuilder();
  const landing = builder.stream<string, LandingEvent>(settings.input, { keySerde: stringSerde, valueSerde: jsonSerde<LandingEvent>() });
  const deduped = landing.processValues(() => new Dedupe(), { name: 'dedupe' });
  builder.topology.addStateStore(keyValueStoreBuilder('seen-ids', stringSerde, jsonSerde<number>()), 'dedupe');
  deduped.to(settings.output);
  deduped.groupByKey().windowedBy(TimeWindows.ofSizeAndGrace(60_000, 10_000)).count({ name: 'per-minute' });

  // The members share the state dir (task directories move between them on a rebalance, as
  // between Kafka Streams' threads); global stores would need one directory each.
  const app = new StreamsApp(builder.build(), log, {
    applicationId: settings.applicationId,
    stateDir: settings.stateDir,
    globalStateDir: `${settings.stateDir}/global-${settings.memberName}`,
    commitIntervalMs: settings.commitIntervalMs,
  });
  app.on('error', onError);
  // What this member did, printed at close: with threads=N every member should have had tasks.
  let written = 0;
  let commits = 0;
  app.on('commit', (event: CommitEvent) => {
    commits++;
    written += event.records; // outputs and changelog records
  });
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const tasks = app.taskIds().join(',') || 'none';
      await app.close().catch((error: unknown) => console.error(error));
      await log.close().catch(() => undefined);
      console.log(`member ${settings.memberName}: ${commits} commits, ${written} records written (outputs + changelogs), tasks at close ${tasks}`);
    })());
  try {
    await app.start();
  } catch (error) {
    await close();
    throw error;
  }
  return { app, close };
}

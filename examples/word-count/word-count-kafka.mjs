// The same word count on Kafka: KAFKA_BROKERS=localhost:9092 node word-count-kafka.mjs [state dir]
import { StreamsApp, StreamsBuilder } from 'streamline-events';
import { openKafkaLog } from 'streamline-events/log/kafka';
import { readKafkaConfig } from 'streamline-events/log/kafka-config';
import { produceLines, printCounts } from './lines.mjs';

const log = await openKafkaLog({ ...readKafkaConfig({ KAFKA_BROKERS: 'localhost:9092', ...process.env }), clientId: 'word-count' });
await log.ensureTopic('lines', { partitions: 2 });
const builder = new StreamsBuilder();
builder.stream('lines')
  .flatMapValues((line) => line.toLowerCase().split(/\W+/).filter(Boolean))
  .groupBy((_key, word) => word, { name: 'by-word' })
  .count({ name: 'counts' })
  .toStream()
  .to('word-counts');
const app = new StreamsApp(builder.build(), log, { applicationId: `word-count-${Date.now()}`, stateDir: process.argv[2] ?? './data/state' });
await app.start();
await printCounts(log, app, await produceLines(log));
await app.close();
await log.close();

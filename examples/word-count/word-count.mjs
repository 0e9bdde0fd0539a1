// Word count on the embedded log: `node word-count.mjs [data dir]` prints {"word": count, ...}.
import { StreamsApp, StreamsBuilder } from 'streamline-events';
import { openEmbeddedLog } from 'streamline-events/log/embedded';
import { produceLines, printCounts } from './lines.mjs';

const dir = process.argv[2] ?? './data';
const log = await openEmbeddedLog({ dir: `${dir}/log` });
await log.ensureTopic('lines', { partitions: 2 });
const builder = new StreamsBuilder();
builder.stream('lines')
  .flatMapValues((line) => line.toLowerCase().split(/\W+/).filter(Boolean))
  .groupBy((_key, word) => word, { name: 'by-word' })
  .count({ name: 'counts' })
  .toStream()
  .to('word-counts');
const app = new StreamsApp(builder.build(), log, { applicationId: 'word-count', stateDir: `${dir}/state` });
await app.start();
await printCounts(log, app, await produceLines(log));
await app.close();
await log.close();

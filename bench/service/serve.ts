/**
 * The service under test, run in its own process so the load generator never shares its event
 * loop. Modes:
 *   baseline  a bare fastify route: parse + ajv-validate the seed 004 product event, answer 202
 *   pipeline  app/Service.ts startService (ROLES from the environment; DATA_DIR a temp dir)
 * Talks to the parent over IPC: {type:'ready', address} once listening; answers {type:'stats'}
 * with CPU, memory and the landing topic's end offsets; {type:'stop'} shuts down and exits
 * (which also writes the --cpu-prof profile when one was asked for).
 *
 *   node --import tsx bench/service/serve.ts baseline|pipeline
 */
import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { startService, type RunningService } from '../../app/Service.js';
import { StreamsApp } from '../../topology/index.js';

const mode = process.argv[2];
const here = path.dirname(fileURLToPath(import.meta.url));

async function startBaseline(): Promise<{ address: string; close: () => Promise<void> }> {
  const schemaFile = path.join(here, '../../ingress/schemas/product/product-event.json');
  const schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8')) as Record<string, unknown>;
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  const app: FastifyInstance = Fastify({ logger: false });
  app.post('/events', async (request, reply) => {
    if (!validate(request.body)) {
      reply.code(400);
      return { error: ajv.errorsText(validate.errors) };
    }
    reply.code(202);
    return { status: 'accepted' };
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { address, close: () => app.close() };
}

// Experiment hook, off unless set: measures a proposed fix (a smaller topology poll, so one
// synchronous processing pass holds the event loop for less time) without editing topology/.
const experimentMaxPoll = process.env.BENCH_EXPERIMENT_MAX_POLL_RECORDS;
if (experimentMaxPoll) {
  const start = StreamsApp.prototype.start;
  StreamsApp.prototype.start = function (this: StreamsApp) {
    (this as unknown as { config: { maxPollRecords: number } }).config.maxPollRecords = Number(experimentMaxPoll);
    return start.call(this);
  };
}

let pipeline: RunningService | undefined;
let close: () => Promise<void>;
let address: string;
if (mode === 'baseline') {
  ({ address, close } = await startBaseline());
} else if (mode === 'pipeline') {
  const logFile = process.env.BENCH_SERVICE_LOG;
  const logger = logFile ? pino({ level: process.env.LOG_LEVEL ?? 'info' }, pino.destination({ dest: logFile, sync: false })) : pino({ level: 'warn' });
  pipeline = await startService({ ...process.env, HOST: '127.0.0.1', PORT: '0' }, logger);
  address = pipeline.address;
  if (experimentMaxPoll && pipeline.streams) {
    const applied = (pipeline.streams as unknown as { config: { maxPollRecords: number } }).config.maxPollRecords;
    console.error(`experiment: topology maxPollRecords = ${applied}`);
  }
  close = () => pipeline!.stop();
} else {
  throw new Error(`unknown mode ${mode}; use baseline or pipeline`);
}

async function landingEvents(): Promise<number> {
  if (!pipeline) return 0;
  const topic = process.env.KAFKA_TOPIC ?? 'events.raw';
  const partitions = Number(process.env.INGRESS_LANDING_PARTITIONS ?? 4);
  let total = 0;
  for (let partition = 0; partition < partitions; partition++) total += await pipeline.log.endOffset({ topic, partition });
  return total;
}

// How long the event loop was held between two stats calls: what an HTTP request waits behind.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

process.on('message', (message: { type: string }) => {
  if (message.type === 'stats') {
    void landingEvents().then((landed) => {
      const usage = process.resourceUsage();
      const loop = { p50Ms: loopDelay.percentile(50) / 1e6, p99Ms: loopDelay.percentile(99) / 1e6, maxMs: loopDelay.max / 1e6 };
      loopDelay.reset();
      process.send!({
        loop,
        type: 'stats',
        cpuMicros: usage.userCPUTime + usage.systemCPUTime,
        maxRssBytes: usage.maxRSS * 1024,
        rssBytes: process.memoryUsage().rss,
        landed,
      });
    });
  } else if (message.type === 'stop') {
    void close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  }
});
// An aborted bench must not leave services behind.
process.on('disconnect', () => process.exit(1));
process.send!({ type: 'ready', address });

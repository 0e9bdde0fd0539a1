/**
 * A pipeline worker thread: the topology's tasks (a stream thread) or the ClickHouse sink, off the
 * HTTP thread (issue 13). It runs the same StartSequence as a single-threaded process, on its own
 * log client (a RemoteLog to the log thread, or its own Kafka clients) and its own metrics
 * registry, and answers the HTTP thread's calls (WorkerProtocol.ts): admin requests through its
 * own fastify instance, readiness, metrics, seed 004's analytics query, stop.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { once } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { registerThreadHeapGauges } from '../../log/remote/ThreadHeapGauges.js';
// Modules, not the ingress's and query layer's indexes: an index would load the ingress's request
// path and the query listener into every worker's V8 heap (issue 21 item 1: idle RSS per thread).
import { readIngressConfig } from '../../ingress/IngressConfig.js';
import type { Log } from '../../log/Log.js';
import { RemoteLog } from '../../log/remote/RemoteLog.js';
import { readPipelineConfig } from '../../processors/PipelineConfig.js';
import type { QueryLayer } from '../../query/QueryLayer.js';
import { readQueryListenerConfig } from '../../query/QueryListenerConfig.js';
import { liveRoutes } from '../../console/LiveRoutes.js';
import { readAppConfig } from '../AppConfig.js';
import { readMemoryPlan, readTopicNames } from '../../config/index.js';
import { applyMemoryPlan } from '../MemoryBudget.js';
import { StartSequence } from '../StartSequence.js';
import { WORKER_HEARTBEAT_MS, type ForwardedRequest, type ForwardedResponse, type PipelineWorkerData, type WorkerCall, type WorkerEvent, type WorkerReadiness, type WorkerReply } from './WorkerProtocol.js';
import { niceThisThread } from './ThreadPriority.js';
import { keepChdbPoolsReniced } from './ChdbPoolPriority.js';

const data = workerData as PipelineWorkerData;
const port = parentPort!;
// pino's default destination (asynchronous writes), held to wait for its last write at stop.
const logDestination = pino.destination({ dest: 1, sync: false });
const logger = pino({ level: data.env.LOG_LEVEL ?? 'info' }, logDestination).child({ thread: data.name });
const post = (event: WorkerEvent) => port.postMessage(event);

let sequence: StartSequence | undefined;
let log: Log | undefined;
let admin: FastifyInstance | undefined;
let queryLayer: QueryLayer | undefined;
let stopping: Promise<void> | undefined;
let stopRenicingChdbPools = () => {};
const registry = new Registry();
registerThreadHeapGauges(registry, data.name);
// The HTTP thread's sign that this thread runs: a thread that died inside a native addon (chDB's
// query completing while the thread is torn down, e.g. out of heap) never reports its exit.
setInterval(() => post({ type: 'alive' }), WORKER_HEARTBEAT_MS).unref();

async function start(): Promise<void> {
  const { env } = data;
  // First: the threads this one starts (chDB's pools, with the sink) inherit its nice value.
  if (niceThisThread(data.nice)) logger.info({ nice: data.nice }, 'thread reniced (PIPELINE_THREAD_NICE)');
  // chDB's pools the HTTP thread created with the addon, and those they start later, follow the sink's thread.
  if (data.roles.includes('sink')) stopRenicingChdbPools = keepChdbPoolsReniced(data.nice, (threads) => logger.debug({ threads, nice: data.nice }, "chDB's pool threads reniced"));
  const config = { ...readAppConfig(env), roles: data.roles };
  // Module state (store and log memory shares) is per thread: each worker applies the plan itself.
  applyMemoryPlan(readMemoryPlan(env));
  // The embedded log is the log thread's: this worker loads the log's own modules only in Kafka mode.
  log = data.logPort ? await RemoteLog.connect(data.logPort) : await (await import('../OpenLog.js')).openLog(config, env, logger, registry);
  const topics = readTopicNames(env);
  const ingressConfig = readIngressConfig(env, topics);
  const pipelineConfig = readPipelineConfig(env, topics);
  const created = await StartSequence.create({
    config,
    env,
    log,
    logger,
    registry,
    pipelineConfig,
    landingPartitions: ingressConfig.landingPartitions,
    threadName: data.name,
    onTopicsReady: () => post({ type: 'topics' }),
  });
  // A stop that came while the roles' modules loaded found no sequence to stop: this one never starts.
  if (stopping) {
    created.pipeline?.close();
    return;
  }
  sequence = created;
  // A failure after start (the sink's late start, a broker that never came back) ends the process, as single-threaded.
  sequence.done.then(
    () => post({ type: 'done' }),
    (error: unknown) => {
      logger.error({ err: error }, 'the start failed');
      post({ type: 'fatal', message: `${data.name}: ${(error as Error).message ?? String(error)}` });
    },
  );
  sequence.streams?.on('commit', (event: { records: number }) => post({ type: 'commit', records: event.records }));
  await sequence.start();
  if (stopping) return;

  admin = Fastify({ logger: false, bodyLimit: ingressConfig.maxBodyBytes });
  const { streams, pipeline } = sequence;
  if (streams && pipeline) {
    // Loaded here, not with this module: a thread that runs only the sink serves no processor routes.
    const { processorRoutes } = await import('../../processors/http/ProcessorRoutes.js');
    await admin.register(processorRoutes, { app: streams, pipeline, log, registry });
    admin.get('/topology', async (_request, reply) => reply.type('text/plain').send(streams.describe()));
  }
  const queryConfig = data.serveQueries ? readQueryListenerConfig(env, ['sink']) : undefined;
  if (queryConfig) {
    const started = sequence;
    const { createQueryLayer } = await import('../../query/QueryLayer.js');
    queryLayer = createQueryLayer({ config: queryConfig, store: () => started.analytics?.store, registry, logger });
    await queryLayer.registerDashboardRoute(admin);
  }
  await admin.ready();
  const queryAddress = await queryLayer?.listen();
  post({ type: 'started', queryAddress, routes: liveRoutes(admin) });
}

// Answered from the first moment, so a stop during the start is not lost.
port.on('message', (call: WorkerCall) => {
  answer(call).then(
    (value) => port.postMessage({ id: call.id, ok: true, value } satisfies WorkerReply),
    (error: unknown) => port.postMessage({ id: call.id, ok: false, message: error instanceof Error ? error.message : String(error) } satisfies WorkerReply),
  );
});

async function answer(call: WorkerCall): Promise<unknown> {
  switch (call.op) {
    case 'forward':
      return forward(call.request);
    case 'readiness':
      return readiness();
    case 'metrics':
      return registry.getMetricsAsJSON();
    case 'analytics': {
      const query = sequence?.analyticsQuery();
      if (!query) return { statusCode: 503, body: { error: 'this thread runs no analytics store' } };
      return query(call.query);
    }
    case 'sql': {
      const store = sequence?.analytics?.store;
      if (!store) throw new Error(`${data.name} runs no analytics store (yet)`);
      return store.query(call.sql, call.params as never);
    }
    case 'stop':
      return stop();
  }
}

async function forward(request: ForwardedRequest): Promise<ForwardedResponse> {
  if (!admin) throw new Error(`${data.name} is not started`);
  const response = await admin.inject({
    method: request.method as 'GET',
    url: request.url,
    headers: request.headers,
    ...(request.body ? { payload: Buffer.from(request.body) } : {}),
  });
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined && name !== 'content-length' && name !== 'transfer-encoding' && name !== 'connection') headers[name] = String(value);
  }
  return { statusCode: response.statusCode, headers, body: response.rawPayload };
}

async function readiness(): Promise<WorkerReadiness[]> {
  if (!sequence) return [];
  return Promise.all(
    sequence.readinessChecks().map(async (check) => {
      const ok = await check.check().catch(() => false);
      return { name: check.name, ok, ...(ok ? {} : { waitingFor: check.waitingFor?.() }) };
    }),
  );
}

/**
 * Stops what started, in reverse order: the query listener, the sink and the topology (the sink's
 * in-flight insert, its last commit, chDB's close; the topology's last commit), this thread's log
 * client. A step that fails does not skip the later ones (a store left open would end this thread
 * with chDB's connection still open); the first failure is the answer.
 */
/** How long the stop's answer waits for the last log lines to be written (a failed write never drains). */
const LOG_DRAIN_WAIT_MS = 1_000;

function stop(): Promise<void> {
  stopping ??= (async () => {
    const began = Date.now();
    const steps: Record<string, number> = {};
    let failure: unknown;
    const step = async (name: string, run: () => Promise<void> | undefined) => {
      const from = Date.now();
      try {
        await run();
      } catch (error) {
        logger.error({ err: error }, `stopping ${name} failed`);
        failure ??= error;
      }
      steps[name] = Date.now() - from;
    };
    stopRenicingChdbPools();
    await step('query listener', () => queryLayer?.close());
    await step('admin', () => admin?.close());
    await step('roles', () => sequence?.stop());
    await step('log client', () => log?.close());
    // The thread is terminated once it answers, and pino flushes at exit only on the main thread:
    // its last lines, queued behind a write in flight, were lost (CI on Node 24). So the answer
    // waits until the destination has drained (a synchronous destination instead kept a thread out
    // of heap from exiting on Node 24: stream-heap-exit). logger.flush() would not wait: with
    // pino's minLength 0 it calls back at once, write in flight or not.
    const drained = once(logDestination, 'drain').catch(() => undefined);
    logger.info({ ms: Date.now() - began, steps }, 'thread stopped');
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, LOG_DRAIN_WAIT_MS).unref())]);
    if (failure !== undefined) throw failure;
  })();
  return stopping;
}

start().catch((error: unknown) => {
  const failure = error as Error & { code?: string };
  post({ type: 'start-failed', message: failure.message ?? String(error), name: failure.name ?? 'Error', ...(typeof failure.code === 'string' ? { code: failure.code } : {}) });
  void stop().catch(() => undefined);
});

import type { MessagePort } from 'node:worker_threads';
import type { Env } from '../../config/index.js';

/** How often a worker says it is alive (WorkerEvent 'alive'). */
export const WORKER_HEARTBEAT_MS = 1_000;

/** What a pipeline worker thread runs (app/threads/pipelineWorkerMain.ts). */
export interface PipelineWorkerData {
  /** Shown in logs and errors: "stream-1", "sink". */
  name: string;
  /** The environment after the seeds' variables were mapped (app/SeedEnv.ts), so every thread reads the same settings. */
  env: Env;
  roles: Array<'topology' | 'sink'>;
  /** Embedded mode: a port served by the log thread. Kafka mode: absent, the worker opens its own clients. */
  logPort?: MessagePort;
  /** The sink's worker also serves the ClickHouse HTTP interface (query/) when it is configured. */
  serveQueries: boolean;
  /** PIPELINE_THREAD_NICE: the nice value the worker gives its own thread first (app/threads/ThreadPriority.ts). */
  nice: number;
}

/** An HTTP request of an admin route, answered by the worker's own fastify instance (inject). */
export interface ForwardedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: Uint8Array;
}

export interface ForwardedResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface WorkerReadiness {
  name: string;
  ok: boolean;
  waitingFor?: string;
}

/** Calls the HTTP thread makes; each answered by one WorkerReply with the same id. */
export type WorkerCall =
  | { id: number; op: 'forward'; request: ForwardedRequest }
  | { id: number; op: 'readiness' }
  | { id: number; op: 'metrics' }
  | { id: number; op: 'analytics'; query: Record<string, string> }
  | { id: number; op: 'sql'; sql: string; params?: Record<string, unknown> }
  | { id: number; op: 'stop' };

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string };

/** What a worker tells the HTTP thread without being asked. */
export type WorkerEvent =
  /** `routes`: the admin routes this worker answers (method, fastify path), mirrored by the HTTP thread. */
  | { type: 'started'; queryAddress?: string; routes: Array<{ method: string; path: string }> }
  /** The pipeline's topics exist (the start's first step): the HTTP thread starts the other workers. */
  | { type: 'topics' }
  /** Every step of the start is done (later than 'started' when Kafka was down at the start). */
  | { type: 'done' }
  /** A stream thread committed (the topology's 'commit' event): records processed since the last. */
  | { type: 'commit'; records: number }
  /** Every WORKER_HEARTBEAT_MS: the thread's event loop runs (PipelineWorker's silence check). */
  | { type: 'alive' }
  | { type: 'start-failed'; message: string; name: string; code?: string }
  | { type: 'fatal'; message: string };

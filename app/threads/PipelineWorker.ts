import { EventEmitter, once } from 'node:events';
import type { MessagePort, ResourceLimits, Worker } from 'node:worker_threads';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { startModuleWorker } from '../../log/remote/StartModuleWorker.js';
import { ConfigError, YOUNG_GENERATION_MB } from '../../config/index.js';
import { WorkerSilence } from './WorkerSilence.js';
import type { ForwardedRequest, ForwardedResponse, PipelineWorkerData, WorkerCall, WorkerEvent, WorkerReadiness, WorkerReply } from './WorkerProtocol.js';

type CallWithoutId = WorkerCall extends infer C ? (C extends WorkerCall ? Omit<C, 'id'> : never) : never;

/** A worker's start failure, rebuilt with the class and code the start's error explanation reads (app/StartErrors.ts). */
function startFailure(event: Extract<WorkerEvent, { type: 'start-failed' }>, thread: string): Error {
  const message = `${thread}: ${event.message}`;
  const error = event.name === 'ConfigError' ? new ConfigError(message) : new Error(message);
  if (event.code) (error as Error & { code?: string }).code = event.code;
  return error;
}

/** A worker's V8 heap limit, and where it came from (named when the worker runs out of it). */
export interface WorkerHeapLimit {
  maxOldGenerationSizeMb: number;
  /** The setting that raises it, e.g. "STREAM_HEAP_MB (default: 30% of MEMORY_LIMIT_MB's plan)". */
  setting: string;
}

/** The V8 limits of a pipeline thread: its young generation by role, its old generation when limited. */
export function pipelineWorkerLimits(roles: readonly string[], heap: WorkerHeapLimit | undefined): ResourceLimits {
  const young = roles.includes('topology') ? YOUNG_GENERATION_MB.stream : YOUNG_GENERATION_MB.sink;
  return { maxYoungGenerationSizeMb: young, ...(heap ? { maxOldGenerationSizeMb: heap.maxOldGenerationSizeMb } : {}) };
}

/** Why a worker thread ended, in one line: the thread, and for a heap that ran out its limit and the setting to change. */
export function workerDeath(thread: string, code: number, failure: Error | undefined, heap: WorkerHeapLimit | undefined): string {
  if ((failure as (Error & { code?: string }) | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    const limit = heap ? ` of ${heap.maxOldGenerationSizeMb} MB (old generation)` : '';
    const fix = heap ? `: raise ${heap.setting}` : '';
    return `thread ${thread} ran out of its V8 heap${limit}${fix}`;
  }
  return failure ? `thread ${thread} failed: ${failure.message}` : `thread ${thread} exited with code ${code}`;
}

/**
 * A started worker that sends nothing (not even its heartbeat, every second) for this long is taken
 * for dead. Its event loop never blocks that long in normal work: chDB's queries and RocksDB's
 * reads run on other threads; the loop's p99 stays under 200 ms at full capacity (the soak).
 */
export const WORKER_SILENCE_LIMIT_MS = 20_000;

/**
 * The HTTP thread's handle on one pipeline worker thread (pipelineWorkerMain.ts): starts it,
 * calls it (numbered calls, one reply each), and reports its death. A worker that exits while the
 * process is not stopping is fatal (`failed` rejects): the process ends and its supervisor
 * restarts it, and exactly-once recovery picks up from the last commit, as after a crash.
 */
export class PipelineWorker extends EventEmitter<{ commit: [{ records: number; thread: string }] }> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private gone: string | undefined;
  private stopping = false;
  private silence: WorkerSilence | undefined;
  /** Rejects when the thread dies or reports a fatal error while not stopping. */
  readonly failed: Promise<never>;
  private fail!: (error: Error) => void;
  /** Resolves when every step of the worker's start is done (later than start() when Kafka was down); rejects as `failed`. */
  readonly done: Promise<void>;
  private markDone!: () => void;
  /** The admin routes the worker answers (its fastify instance's), known once started. */
  routes: Array<{ method: string; path: string }> = [];
  /** Where the worker's ClickHouse HTTP listener answers, when it runs one. */
  queryAddress: string | undefined;

  private constructor(
    readonly name: string,
    private readonly worker: Worker,
    private readonly heap: WorkerHeapLimit | undefined,
  ) {
    super();
    this.failed = new Promise<never>((_resolve, reject) => (this.fail = reject));
    this.failed.catch(() => undefined);
    this.done = Promise.race([new Promise<void>((resolve) => (this.markDone = resolve)), this.failed]);
    this.done.catch(() => undefined);
    worker.on('message', (message: WorkerReply | WorkerEvent) => this.receive(message));
    let failure: Error | undefined;
    // Without a listener, the worker's uncaught exception would be rethrown in this thread.
    worker.on('error', (error) => (failure = error));
    worker.on('exit', (code) => {
      this.silence?.stop();
      this.gone = workerDeath(name, code, failure, heap);
      for (const call of this.pending.values()) call.reject(new Error(`${this.gone} before it answered`));
      this.pending.clear();
      if (!this.stopping) this.fail(new Error(this.gone, { cause: failure }));
    });
  }

  /**
   * Starts the thread and resolves once its roles run (its StartSequence started), or rejects with
   * why not. `onTopics` is called when the pipeline's topics exist (the start's first step), before
   * that. `heap` limits the thread's V8 old generation (resourceLimits).
   */
  static async start(data: PipelineWorkerData, onTopics?: () => void, heap?: WorkerHeapLimit): Promise<PipelineWorker> {
    const transferList = data.logPort ? [data.logPort as MessagePort] : [];
    const resourceLimits = pipelineWorkerLimits(data.roles, heap);
    const worker = startModuleWorker(new URL('./pipelineWorkerMain.js', import.meta.url), { workerData: data, transferList, name: data.name, resourceLimits } as never);
    const handle = new PipelineWorker(data.name, worker, heap);
    handle.onTopics = onTopics;
    const started = new Promise<void>((resolve, reject) => {
      handle.onStarted = (event) => (event.type === 'started' ? resolve() : reject(startFailure(event, data.name)));
      handle.failed.catch(reject);
    });
    try {
      await started;
    } catch (error) {
      handle.stopping = true;
      await worker.terminate();
      throw error;
    }
    return handle;
  }

  private onStarted: ((event: Extract<WorkerEvent, { type: 'started' | 'start-failed' }>) => void) | undefined;
  private onTopics: (() => void) | undefined;

  /** From its start on, a worker that falls silent fails the process as if it had exited. */
  private watchSilence(): void {
    this.silence = new WorkerSilence(WORKER_SILENCE_LIMIT_MS, (silentMs) => {
      if (this.stopping || this.gone) return;
      const heap = this.heap ? ` (if it ran out of its V8 heap of ${this.heap.maxOldGenerationSizeMb} MB inside chDB's addon: raise ${this.heap.setting})` : '';
      this.fail(new Error(`thread ${this.name} has sent nothing for ${Math.round(silentMs / 1000)} s: it died without exiting or its event loop is stuck${heap}`));
    });
  }

  private receive(message: WorkerReply | WorkerEvent): void {
    this.silence?.heard();
    if ('type' in message) {
      if (message.type === 'alive') return;
      if (message.type === 'fatal') {
        if (!this.stopping) this.fail(new Error(message.message));
        return;
      }
      if (message.type === 'done') return this.markDone();
      if (message.type === 'topics') {
        this.onTopics?.();
        this.onTopics = undefined;
        return;
      }
      if (message.type === 'commit') {
        this.emit('commit', { records: message.records, thread: this.name });
        return;
      }
      if (message.type === 'started') {
        this.queryAddress = message.queryAddress;
        this.routes = message.routes;
        this.watchSilence();
      }
      this.onStarted?.(message);
      this.onStarted = undefined;
      return;
    }
    const call = this.pending.get(message.id);
    if (!call) return;
    this.pending.delete(message.id);
    if (message.ok) call.resolve(message.value);
    else call.reject(new Error(message.message));
  }

  private call<T>(call: CallWithoutId, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.gone) return Promise.reject(new Error(this.gone));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ ...call, id } as WorkerCall, transfer);
    });
  }

  forward(request: ForwardedRequest): Promise<ForwardedResponse> {
    return this.call({ op: 'forward', request });
  }

  readiness(): Promise<WorkerReadiness[]> {
    return this.call({ op: 'readiness' });
  }

  metrics(): Promise<Array<MetricObjectWithValues<MetricValue<string>>>> {
    return this.call({ op: 'metrics' });
  }

  analytics(query: Record<string, string>): Promise<{ statusCode: number; body: unknown }> {
    return this.call({ op: 'analytics', query });
  }

  /** Rows of a query on the sink thread's analytics store (chDB has one engine per process: other threads ask it). */
  sql<T>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
    return this.call({ op: 'sql', sql, ...(params ? { params } : {}) });
  }

  /**
   * The worker's last commit and close (the sink's in-flight chDB insert finished, chDB closed and
   * drained), then the thread ends. terminate() comes only after the worker said it stopped, or
   * after WORKER_STOP_TIMEOUT_MS as the last resort: a thread torn down while a chDB call is in
   * flight can block inside chDB's addon when the call completes (WorkerSilence.ts), and
   * process.exit() would then wait for it for ever (app/main.ts arms the exit watchdog for that).
   * Rejects, naming the thread, when the stop failed or ran out of time.
   */
  async stop(): Promise<void> {
    if (this.gone) return;
    this.stopping = true;
    this.silence?.stop();
    const exited = once(this.worker, 'exit').then(() => undefined);
    const outcome = await within(
      this.call({ op: 'stop' }).then(
        () => undefined,
        (error: Error) => `its stop failed (${error.message})`,
      ),
      WORKER_STOP_TIMEOUT_MS,
      `it did not stop within ${WORKER_STOP_TIMEOUT_MS / 1000} s`,
    );
    void this.worker.terminate().catch(() => undefined);
    // A thread stuck in native code never reports its exit; what remains is the process's own exit.
    await within(exited, WORKER_EXIT_GRACE_MS, undefined);
    if (outcome !== undefined) throw new Error(`thread ${this.name}: ${outcome}; terminated (a restart resumes from the last commit)`);
  }
}

/**
 * How long a worker's stop may take: the query listener's running read, the sink's in-flight
 * round and its final flush of what it buffered (both bounded: ClickHouseSink.stop), the
 * topology's last commit, chDB's close. Under full load on 2 cores they take 1-4 s.
 */
export const WORKER_STOP_TIMEOUT_MS = 10_000;
/** After the stop (or its timeout), how long the thread's end is waited for. */
const WORKER_EXIT_GRACE_MS = 2_000;

/** What `work` resolves to, or `late` if it takes longer than `ms`. */
function within<T, L>(work: Promise<T>, ms: number, late: L): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<L>((resolve) => (timer = setTimeout(() => resolve(late), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

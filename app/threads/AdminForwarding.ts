import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PipelineWorker } from './PipelineWorker.js';
import { MERGED_STATS } from './StatsMerging.js';
import type { ForwardedRequest, ForwardedResponse } from './WorkerProtocol.js';

/** Admin routes that change every stream thread's in-memory rules: sent to all of them. */
const RULE_CHANGES = [/^\/processor\/filters(\/reload)?$/, /^\/processor\/routes(\/[^/]+)?$/];
/** Interactive queries: a key's aggregate lives in the thread that runs its task. */
const INTERACTIVE_QUERY = /^\/processor\/aggregation$/;

function pathOf(url: string): string {
  return url.split('?', 1)[0]!;
}

function isRuleChange(method: string, url: string): boolean {
  return method !== 'GET' && RULE_CHANGES.some((pattern) => pattern.test(pathOf(url)));
}

/**
 * Serves the admin routes whose answers live in the worker threads (seed 002's processor API,
 * GET /topology, the dashboard's query) by handing each request to the worker's own fastify
 * instance (inject) and sending back its answer unchanged, so the routes, their validation and
 * their errors are the single-threaded ones. With several stream threads: rule changes go to
 * every thread (each runs the filters and routes over its own tasks) and answer with the first
 * failure or the first answer; an interactive query asks every thread and answers with the one
 * that knows the key (200; the others answer 404); the statistics routes ask every thread and
 * combine their answers (app/threads/StatsMerging.ts); everything else (reference data, DLQ replay)
 * goes to the first stream thread, so writes to the log happen once.
 */
export class AdminForwarding {
  constructor(
    private readonly streamWorkers: PipelineWorker[],
    /** The sink's worker when it runs in a thread of its own (in a stream thread its routes are among that thread's). */
    private readonly sinkWorker: PipelineWorker | undefined,
  ) {}

  /** Registers the forwarded routes on an admin scope (behind its token hook, added by the caller). */
  async register(scope: FastifyInstance): Promise<void> {
    await scope.register(async (forwarded) => {
      // The worker parses the body as the route expects (JSON, NDJSON): forward the bytes.
      forwarded.removeAllContentTypeParsers();
      forwarded.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
      // The workers' own routes, method and path, so GET /openapi.json documents them as served here.
      const first = this.streamWorkers[0];
      for (const { method, path } of first?.routes ?? []) {
        if (path === '/topology') continue; // served by the admin routes themselves (describeTopology)
        forwarded.route({ method: method as 'GET', url: path, handler: (request, reply) => this.toStreamThreads(request, reply) });
      }
      const sink = this.sinkWorker;
      for (const { method, path } of sink?.routes ?? []) {
        forwarded.route({ method: method as 'GET', url: path, handler: (request, reply) => this.send(reply, sink!.forward(requestOf(request))) });
      }
    });
  }

  /** GET /topology from the first stream thread (every thread runs the same topology). */
  async describeTopology(): Promise<string> {
    const first = this.streamWorkers[0];
    if (!first) return 'this instance runs no topology (ROLES)';
    const response = await first.forward({ method: 'GET', url: '/topology', headers: {} });
    return Buffer.from(response.body).toString('utf8');
  }

  private async toStreamThreads(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const forwarded = requestOf(request);
    const [first, ...others] = this.streamWorkers;
    if (others.length === 0) return this.send(reply, first!.forward(forwarded));
    if (isRuleChange(forwarded.method, forwarded.url)) {
      const answers = await this.askEveryThread(forwarded);
      return this.send(reply, Promise.resolve(answers.find((answer) => answer.statusCode >= 400) ?? answers[0]!));
    }
    if (forwarded.method === 'GET' && INTERACTIVE_QUERY.test(pathOf(forwarded.url))) {
      const answers = await this.askEveryThread(forwarded);
      // The thread that knows the key, else one still restoring or rebalancing (503: retry, the key may be there), else the 404.
      const answer = answers.find((a) => a.statusCode === 200) ?? answers.find((a) => a.statusCode === 503) ?? answers[0]!;
      return this.send(reply, Promise.resolve(answer));
    }
    const merge = forwarded.method === 'GET' ? MERGED_STATS.get(pathOf(forwarded.url)) : undefined;
    if (merge) {
      const answers = await this.askEveryThread(forwarded);
      return this.send(reply, Promise.resolve(mergedAnswer(answers, merge)));
    }
    return this.send(reply, first!.forward(forwarded));
  }

  private askEveryThread(forwarded: ForwardedRequest): Promise<ForwardedResponse[]> {
    return Promise.all(this.streamWorkers.map((worker) => worker.forward(forwarded)));
  }

  private async send(reply: FastifyReply, answer: Promise<ForwardedResponse>): Promise<FastifyReply> {
    const response = await answer;
    return reply.code(response.statusCode).headers(response.headers).send(Buffer.from(response.body));
  }
}

/**
 * One answer from every thread's: their JSON bodies merged, with the worst status code (a 503 from
 * /processor/status while a thread is unhealthy); an answer that is not JSON (an error page) wins as is.
 */
function mergedAnswer(answers: ForwardedResponse[], merge: (bodies: Record<string, unknown>[]) => Record<string, unknown>): ForwardedResponse {
  const bodies: Record<string, unknown>[] = [];
  for (const answer of answers) {
    if (answer.statusCode !== 200 && answer.statusCode !== 503) return answer;
    try {
      bodies.push(JSON.parse(Buffer.from(answer.body).toString('utf8')) as Record<string, unknown>);
    } catch {
      return answer;
    }
  }
  const worst = answers.reduce((a, b) => (b.statusCode > a.statusCode ? b : a));
  const { 'content-length': _length, ...headers } = worst.headers;
  return { statusCode: worst.statusCode, headers, body: new Uint8Array(Buffer.from(JSON.stringify(merge(bodies)))) };
}

function requestOf(request: FastifyRequest): ForwardedRequest {
  const headers: Record<string, string> = {};
  for (const name of ['content-type', 'accept']) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const body = Buffer.isBuffer(request.body) && request.body.length > 0 ? new Uint8Array(request.body) : undefined;
  return { method: request.method, url: request.url, headers, ...(body ? { body } : {}) };
}

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { Registry } from 'prom-client';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import type { Log, LogRecord } from '../../log/Log.js';
import { tempDir } from '../support/temp-dir.js';
import { buildIngress, type IngressOptions } from '../../ingress/BuildIngress.js';
import { type IngressConfig, ingressConfig } from '../../ingress/IngressConfig.js';
import { type LandingEnvelope, parseLandingEnvelope } from '../../ingress/LandingEnvelope.js';

export type ConfigOverrides = Omit<Partial<IngressConfig>, 'rateLimit' | 'breaker' | 'spool' | 'idempotency'> & {
  rateLimit?: Partial<IngressConfig['rateLimit']>;
  breaker?: Partial<IngressConfig['breaker']>;
  spool?: Partial<IngressConfig['spool']>;
  idempotency?: Partial<IngressConfig['idempotency']>;
};

export interface SendOptions {
  method?: string;
  url: string;
  headers?: Record<string, string>;
  /** Objects and arrays are sent as JSON; strings and Buffers as they are. */
  payload?: unknown;
  timeoutMs?: number;
}

export interface Reply {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * Sends one request over a real socket. (fastify.inject needs light-my-request, whose ESM-only
 * cookie dependency jest's CommonJS loader cannot require here.)
 */
export function send(baseUrl: string, options: SendOptions): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  let body: Buffer | undefined;
  if (options.payload !== undefined) {
    if (Buffer.isBuffer(options.payload)) body = options.payload;
    else if (typeof options.payload === 'string') body = Buffer.from(options.payload);
    else {
      body = Buffer.from(JSON.stringify(options.payload));
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-length' || h.toLowerCase() === 'transfer-encoding')) {
      headers['content-length'] = String(body.length);
    }
  }
  const url = new URL(options.url, baseUrl);
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? (body ? 'POST' : 'GET'), headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(options.timeoutMs ?? 15_000, () => req.destroy(new Error(`no answer to ${options.method ?? 'POST'} ${options.url} within ${options.timeoutMs ?? 15_000} ms`)));
    req.end(body);
  });
}

export interface Harness {
  app: FastifyInstance;
  baseUrl: string;
  /** A request to this ingress over a real socket. */
  inject(options: SendOptions): Promise<Reply>;
  log: Log;
  dir: string;
  config: IngressConfig;
  registry: Registry;
  /** Every record of a topic, partition by partition in offset order. */
  records(topic?: string): Promise<LogRecord[]>;
  envelopes(topic?: string): Promise<LandingEnvelope[]>;
  close(): Promise<void>;
}

export async function readTopic(log: Log, topic: string): Promise<LogRecord[]> {
  const topics = await log.listTopics();
  if (!topics.includes(topic)) return [];
  const partitions = await log.partitionCount(topic);
  const out: LogRecord[] = [];
  for (let partition = 0; partition < partitions; partition++) {
    let offset = await log.beginningOffset({ topic, partition });
    for (;;) {
      const batch = await log.read({ topic, partition }, offset, 10_000);
      if (batch.length === 0) break;
      out.push(...batch);
      offset = batch[batch.length - 1]!.offset + 1;
    }
  }
  return out;
}

/**
 * A real ingress on a real EmbeddedLog in a fresh temp dir. `wrapLog` lets a test put a
 * fault-injecting decorator around the real log.
 */
export async function startIngress(
  options: {
    config?: ConfigOverrides;
    dir?: string;
    redis?: Redis;
    wrapLog?: (log: Log) => Log;
    extra?: Partial<IngressOptions>;
  } = {},
): Promise<Harness> {
  const dir = options.dir ?? tempDir('ingress');
  const embedded = await openEmbeddedLog({ dir: path.join(dir, 'log') });
  const log = options.wrapLog ? options.wrapLog(embedded) : embedded;
  const overrides = options.config ?? {};
  const config = ingressConfig({
    ...overrides,
    spool: { dir: path.join(dir, 'spool'), ...overrides.spool },
  } as Partial<IngressConfig>);
  const registry = new Registry();
  let app: FastifyInstance;
  try {
    app = await buildIngress({ log, config, registry, logger: pino({ level: 'silent' }), redis: options.redis, ...options.extra });
    await app.listen({ host: '127.0.0.1', port: 0 });
  } catch (error) {
    await embedded.close();
    throw error;
  }
  let closed = false;
  const address = app.server.address();
  const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const harness: Harness = {
    app,
    baseUrl,
    inject: (request) => send(baseUrl, request),
    log,
    dir,
    config,
    registry,
    records: (topic = config.landingTopic) => readTopic(embedded, topic),
    envelopes: async (topic = config.landingTopic) => (await readTopic(embedded, topic)).map((record) => parseLandingEnvelope(record.value)),
    close: async () => {
      if (closed) return;
      closed = true;
      await app.close();
      await embedded.close();
      if (!options.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Polls a condition the code under test exposes no event for (e.g. "the spool is empty"). */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function productEvent(i: number, user = 'user-1', extra: Record<string, unknown> = {}) {
  return { event_id: `evt-${i}`, event_name: 'product_view', channel: 'web', user_id: user, timestamp: 1708732800000 + i, ...extra };
}

/** A valid seed 001 collector event (an assessment) with id `id`. */
export function collectorEvent(id: string, extra: Record<string, unknown> = {}) {
  return {
    event_id: id,
    learner_id: 'learner-1',
    tenant_id: 't',
    event_type: 'assessment',
    priority: 'high',
    timestamp: '2024-01-15T10:30:00Z',
    source_service: 'quiz',
    event_data: { score: 8, max_score: 10, passed: true },
    ...extra,
  };
}

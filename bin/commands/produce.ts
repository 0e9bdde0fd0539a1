import fs from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Env } from '../../config/index.js';
import { readIngressConfig } from '../../ingress/index.js';
import { UnknownTopicError, type ProducerRecord } from '../../log/Log.js';
import { bareEventType } from '../../processors/LandingEvent.js';
import { LANDING_HEADERS } from '../../processors/LandingContract.js';
import { readPipelineConfig } from '../../processors/PipelineConfig.js';
import { appConfig, CliError, type Command, parseCommand, progressBar, withLog } from './cli-support.js';

const USAGE = 'streamline produce <file.ndjson | -> [--batch <n>] [--url <service>] [--data-dir <dir>]';
const SEED000 = new Set(['attempt', 'session', 'placement']);
const COLLECTOR = new Set(['interaction', 'progress', 'assessment', 'error', 'system']);
const MAX_RETRIES = 20;

interface Line {
  number: number;
  text: string;
}

interface Tally {
  sent: number;
  accepted: number;
  refused: Array<{ line: number; reason: string }>;
}

/**
 * streamline produce <file.ndjson | ->: events (one JSON object a line, any seed shape) onto the
 * landing topic, for backfills.
 *
 * With KAFKA_BROKERS, each line is written as it is (a bare event, docs/LANDING.md) keyed by its
 * user_id / learner_id: the topology validates it, dedupes it by its client id or gives it an id
 * from its position, and dead-letters what is invalid. In embedded mode the running service
 * holds the log (RocksDB allows one process), so lines go through its HTTP ingress in batches
 * per route (seed 000, seed 001, seed 004), which answers for each event; refused lines are
 * listed with their line number. 429/503 answers are retried after their Retry-After.
 */
export const produceCommand: Command = async (args, context) => {
  const { values, positionals, env } = parseCommand(args, { batch: { type: 'string' }, url: { type: 'string' } }, context, USAGE);
  const [file] = positionals;
  if (file === undefined || positionals.length > 1) throw new CliError(`usage: ${USAGE}`, 2);
  const batchSize = values.batch === undefined ? 100 : Number(values.batch);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new CliError(`--batch must be an integer from 1 to 10000; usage: ${USAGE}`, 2);
  const total = file === '-' ? 0 : countLines(file);
  const input: Readable = file === '-' ? process.stdin : fs.createReadStream(file);
  input.on('error', () => undefined);
  const config = appConfig(env);
  const tally: Tally = { sent: 0, accepted: 0, refused: [] };
  const bar = progressBar(context, 'produce', total);
  try {
    if (config.logMode === 'kafka') await produceToKafka(env, input, batchSize, tally, bar);
    else await produceOverHttp(env, typeof values.url === 'string' ? values.url : serviceUrl(env), input, batchSize, tally, bar);
  } finally {
    bar.stop();
  }
  tally.refused.sort((a, b) => a.line - b.line);
  for (const refusal of tally.refused.slice(0, 20)) context.out(`line ${refusal.line}: ${refusal.reason}`);
  if (tally.refused.length > 20) context.out(`... and ${tally.refused.length - 20} more refused lines`);
  const where = config.logMode === 'kafka' ? 'written to the landing topic' : 'accepted by the service';
  context.out(`${tally.accepted} of ${tally.sent} events ${where}; ${tally.refused.length} refused`);
  if (tally.refused.length > 0 && tally.accepted === 0) throw new CliError('no event was produced');
};

function countLines(file: string): number {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  return text.split('\n').filter((line) => line.trim().length > 0).length;
}

function serviceUrl(env: Env): string {
  const port = env.PORT && env.PORT !== '0' ? env.PORT : '3000';
  return `http://127.0.0.1:${port}`;
}

/** Non-empty lines in batches. */
async function* batches(input: Readable, size: number): AsyncGenerator<Line[]> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let batch: Line[] = [];
  let number = 0;
  for await (const text of lines) {
    number++;
    if (text.trim().length === 0) continue;
    batch.push({ number, text });
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

async function produceToKafka(env: Env, input: Readable, batchSize: number, tally: Tally, bar: { update(value: number): void }): Promise<void> {
  let landingTopic: string;
  let landingPartitions: number;
  try {
    landingTopic = readPipelineConfig(env).landingTopic;
    landingPartitions = readIngressConfig(env).landingPartitions;
  } catch (error) {
    throw new CliError(`configuration error: ${(error as Error).message}`);
  }
  await withLog(
    env,
    async (log) => {
      // A backfill may come before the first start: the landing topic as the service would create it.
      await log.partitionCount(landingTopic).catch(async (error: unknown) => {
        if (!(error instanceof UnknownTopicError)) throw error;
        await log.ensureTopic(landingTopic, { partitions: landingPartitions });
      });
      for await (const batch of batches(input, batchSize)) {
        const records: ProducerRecord[] = batch.map(({ text }) => {
          const event = parseObject(text);
          const user = event?.user_id ?? event?.learner_id;
          return {
            topic: landingTopic,
            key: typeof user === 'string' && user.length > 0 ? Buffer.from(user, 'utf8') : null,
            value: Buffer.from(text, 'utf8'),
            headers: { [LANDING_HEADERS.contentType]: 'application/json' },
          };
        });
        // Written as they are: the topology is the one judge of a landing record (docs/LANDING.md).
        try {
          await log.produce(records);
        } catch (error) {
          throw new CliError(`writing lines ${batch[0]!.number}-${batch[batch.length - 1]!.number} to ${landingTopic} failed (${tally.sent} lines written before): ${(error as Error).message}`);
        }
        tally.sent += batch.length;
        tally.accepted += batch.length;
        bar.update(tally.sent);
      }
    },
    { mustExist: false },
  );
}

type Route = 'seed000' | 'collector' | 'product';

function routeOf(event: Record<string, unknown>): { route: Route; type: string } | undefined {
  const type = bareEventType(event);
  if (type === undefined) return undefined;
  if (SEED000.has(type)) return { route: 'seed000', type };
  if (COLLECTOR.has(type)) return { route: 'collector', type };
  return { route: 'product', type };
}

async function produceOverHttp(env: Env, base: string, input: Readable, batchSize: number, tally: Tally, bar: { update(value: number): void }): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (env.STREAMLINE_API_KEY) headers.authorization = `Bearer ${env.STREAMLINE_API_KEY}`;
  for await (const batch of batches(input, batchSize)) {
    const groups = new Map<Route, Array<{ line: number; event: Record<string, unknown>; type: string }>>();
    for (const { number, text } of batch) {
      tally.sent++;
      const event = parseObject(text);
      const route = event && routeOf(event);
      if (!event) tally.refused.push({ line: number, reason: 'not a JSON object' });
      else if (!route) tally.refused.push({ line: number, reason: 'not a seed 000 / 001 / 004 event (no client_attempt_id, session_id, placement_id, collector event_type or event_name)' });
      else groups.set(route.route, [...(groups.get(route.route) ?? []), { line: number, event, type: route.type }]);
    }
    for (const [route, events] of groups) await postBatch(base, headers, route, events, tally);
    bar.update(tally.sent);
  }
}

/** The three routes answer per event differently: seed 000 results[], seed 001 dlq_events[], seed 004 errors[]. */
interface RouteAnswer {
  error?: string;
  errors?: Array<{ index?: number; error?: string }>;
  dlq_events?: Array<{ index?: number; error?: string }>;
  results?: Array<{ index?: number; status?: string; errors?: Array<{ message?: string }> } | null>;
}

function refusals(answer: RouteAnswer): Array<{ index: number; reason: string }> {
  const out: Array<{ index: number; reason: string }> = [];
  // The batch index in seed 004's "events[3]: ..." means nothing to the user: the line number replaces it.
  for (const item of [...(answer.errors ?? []), ...(answer.dlq_events ?? [])]) {
    if (typeof item.index === 'number') out.push({ index: item.index, reason: (item.error ?? 'refused').replace(/^events\[\d+\]: /, '') });
  }
  for (const result of answer.results ?? []) {
    if (result && result.status === 'rejected' && typeof result.index === 'number') out.push({ index: result.index, reason: (result.errors ?? []).map((e) => e.message).join('; ') || 'refused' });
  }
  return out;
}

async function postBatch(base: string, headers: Record<string, string>, route: Route, events: Array<{ line: number; event: Record<string, unknown>; type: string }>, tally: Tally): Promise<void> {
  const path = route === 'seed000' ? '/api/v1/events/batch' : route === 'collector' ? '/api/v1/collect' : '/events/bulk';
  // seed 000's batch takes per-type arrays, which say each event's type.
  const body =
    route === 'seed000'
      ? Object.fromEntries(['attempt', 'session', 'placement'].map((type) => [`${type}s`, events.filter((e) => e.type === type).map((e) => e.event)]).filter(([, list]) => (list as unknown[]).length > 0))
      : { events: events.map((e) => e.event) };
  for (let attempt = 0; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(base + path, { method: 'POST', headers, body: JSON.stringify(body) });
    } catch (error) {
      throw new CliError(`cannot reach the service at ${base} (${(error as Error).message}): start it (streamline start), pass --url, or set KAFKA_BROKERS to write to Kafka directly`);
    }
    const answer = (await response.json().catch(() => ({}))) as RouteAnswer;
    if ((response.status === 429 || response.status === 503) && attempt < MAX_RETRIES) {
      const seconds = Number(response.headers.get('retry-after') ?? 1);
      await new Promise((resolve) => setTimeout(resolve, Math.min(30, Math.max(0.1, seconds)) * 1000));
      continue;
    }
    if (response.status === 401 || response.status === 403) throw new CliError(`the service refused the request (${response.status}): set STREAMLINE_API_KEY`);
    const ordered = route === 'seed000' ? ['attempt', 'session', 'placement'].flatMap((type) => events.filter((e) => e.type === type)) : events;
    const refused = new Map<number, string>();
    for (const { index, reason } of refusals(answer)) if (ordered[index]) refused.set(index, reason);
    if (response.status >= 400 && refused.size === 0) {
      for (let i = 0; i < ordered.length; i++) refused.set(i, answer.error ?? `HTTP ${response.status}`);
    }
    for (const [index, reason] of refused) tally.refused.push({ line: ordered[index]!.line, reason });
    tally.accepted += ordered.length - refused.size;
    return;
  }
}

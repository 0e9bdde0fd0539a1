import { readIngressConfig } from '../../ingress/index.js';
import type { Log, LogRecord, ProducerRecord } from '../../log/Log.js';
import { UnknownTopicError } from '../../log/Log.js';
import { readPipelineConfig } from '../../processors/index.js';
import { DLQ_REASON, DLQ_TIMESTAMP, ORIGINAL_OFFSET, ORIGINAL_PARTITION, ORIGINAL_TOPIC } from '../../topology/index.js';
import type { Env } from '../../app/env.js';
import { CliError, type CliContext, type Command, parseCommand, progressBar, withLog } from './cli-support.js';

const USAGE = 'streamline dlq list [--topic <t>] [--limit <n>] [--json] | streamline dlq replay [--topic <t>] [--reason <regex>] [--limit <n>] [--include-rejected]';

/**
 * The DLQ topics: the topology's (DLQ_TOPIC, default dlq.events) and the ingress's rejected batch
 * events (DLQ_TOPIC, default events-dlq); with DLQ_TOPIC set they are one.
 */
function dlqTopics(env: Env): string[] {
  try {
    return [...new Set([readPipelineConfig(env).dlqTopic, readIngressConfig(env).dlqTopic])];
  } catch (error) {
    throw new CliError(`configuration error: ${(error as Error).message}`);
  }
}

async function existingTopics(log: Log, topics: string[]): Promise<string[]> {
  const known = new Set(await log.listTopics());
  return topics.filter((topic) => known.has(topic));
}

function positiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`--${name} must be a positive integer, got "${String(value)}"`, 2);
  return n;
}

async function span(log: Log, topic: string): Promise<{ partition: number; start: number; end: number }[]> {
  const count = await log.partitionCount(topic);
  const out = [];
  for (let partition = 0; partition < count; partition++) {
    out.push({ partition, start: await log.beginningOffset({ topic, partition }), end: await log.endOffset({ topic, partition }) });
  }
  return out;
}

function describeRecord(record: LogRecord): string {
  const h = record.headers;
  const origin = h[ORIGINAL_TOPIC] ? `${h[ORIGINAL_TOPIC]}${h[ORIGINAL_PARTITION] ? `/${h[ORIGINAL_PARTITION]}@${h[ORIGINAL_OFFSET]}` : ''}` : '?';
  return `${record.topic}/${record.partition}@${record.offset}  ${h[DLQ_TIMESTAMP] ?? new Date(record.timestamp).toISOString()}  from ${origin}  key=${record.key?.toString('utf8') ?? 'null'}  ${h[DLQ_REASON] ?? '(no reason)'}`;
}

async function list(args: string[], context: CliContext): Promise<void> {
  const { values, env } = parseCommand(args, { topic: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } }, context, USAGE);
  const limit = positiveInt('limit', values.limit, 20);
  await withLog(env, async (log) => {
    const topics = await existingTopics(log, typeof values.topic === 'string' ? [values.topic] : dlqTopics(env));
    if (topics.length === 0) {
      context.out(`no dead letters: no DLQ topic (${typeof values.topic === 'string' ? values.topic : dlqTopics(env).join(', ')}) exists yet`);
      return;
    }
    let total = 0;
    let shown = 0;
    for (const topic of topics) {
      for (const { partition, start, end } of await span(log, topic)) {
        total += end - start;
        for (let offset = start; offset < end && shown < limit; ) {
          const batch = await log.read({ topic, partition }, offset, Math.min(500, limit - shown));
          if (batch.length === 0) break;
          for (const record of batch) {
            if (shown >= limit) break;
            shown++;
            context.out(
              values.json
                ? JSON.stringify({ topic, partition, offset: record.offset, key: record.key?.toString('utf8') ?? null, headers: record.headers, timestamp: record.timestamp, value: record.value?.toString('utf8') ?? null })
                : describeRecord(record),
            );
          }
          offset = batch[batch.length - 1]!.offset + 1;
        }
      }
    }
    if (!values.json) context.out(`${total} dead letters in ${topics.join(', ')}; showing ${shown}${shown < total ? ` (--limit ${limit})` : ''}`);
  });
}

const DLQ_HEADERS = new Set([DLQ_REASON, DLQ_TIMESTAMP, ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET, 'retry_count']);

/** The record as it was before it was dead-lettered: DLQ headers dropped, retry_count + 1 (as processors' replayDeadLetters). */
function replayRecord(record: LogRecord): ProducerRecord {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(record.headers)) if (!DLQ_HEADERS.has(name)) headers[name] = value;
  headers.retry_count = String(Number(record.headers.retry_count ?? '0') + 1);
  return { topic: record.headers[ORIGINAL_TOPIC]!, key: record.key, value: record.value, headers, timestamp: record.timestamp };
}

/**
 * Sends dead letters back to their original_topic, up to the end offsets read at the start (a
 * replayed record that fails again lands behind them). Events the ingress refused (no
 * original_offset: they never were in the landing topic, the DLQ holds the client's invalid
 * event) are skipped unless --include-rejected: replaying them only dead-letters them again.
 * processors' replayDeadLetters does the same minus that choice and a progress report.
 */
async function replay(args: string[], context: CliContext): Promise<void> {
  const { values, env } = parseCommand(
    args,
    { topic: { type: 'string' }, reason: { type: 'string' }, limit: { type: 'string' }, 'include-rejected': { type: 'boolean' } },
    context,
    USAGE,
  );
  const limit = positiveInt('limit', values.limit, Number.MAX_SAFE_INTEGER);
  let reasonMatches: RegExp | undefined;
  try {
    reasonMatches = typeof values.reason === 'string' ? new RegExp(values.reason) : undefined;
  } catch (error) {
    throw new CliError(`--reason is not a regular expression: ${(error as Error).message}`, 2);
  }
  await withLog(env, async (log) => {
    const topics = await existingTopics(log, typeof values.topic === 'string' ? [values.topic] : dlqTopics(env));
    const skipped = { rejected: 0, reason: 0, noOrigin: 0 };
    let replayed = 0;
    for (const topic of topics) {
      const spans = await span(log, topic);
      const bar = progressBar(context, `replay ${topic}`, spans.reduce((sum, s) => sum + s.end - s.start, 0));
      let done = 0;
      try {
        for (const { partition, start, end } of spans) {
          for (let offset = start; offset < end && replayed < limit; ) {
            const batch = (await log.read({ topic, partition }, offset, 1000)).filter((r) => r.offset < end);
            if (batch.length === 0) break;
            const out: ProducerRecord[] = [];
            for (const record of batch) {
              offset = record.offset + 1;
              done++;
              if (!record.headers[ORIGINAL_TOPIC]) skipped.noOrigin++;
              else if (!record.headers[ORIGINAL_OFFSET] && !values['include-rejected']) skipped.rejected++;
              else if (reasonMatches && !reasonMatches.test(record.headers[DLQ_REASON] ?? '')) skipped.reason++;
              else out.push(replayRecord(record));
              if (replayed + out.length >= limit) break;
            }
            if (out.length > 0) await log.produce(out);
            replayed += out.length;
            bar.update(done);
          }
        }
      } catch (error) {
        if (error instanceof UnknownTopicError) throw new CliError(`a dead letter's original topic does not exist: ${error.topic} (nothing after it was replayed)`);
        throw error;
      } finally {
        bar.stop();
      }
    }
    const notes = [
      skipped.rejected ? `${skipped.rejected} refused by the ingress (--include-rejected to replay them)` : '',
      skipped.reason ? `${skipped.reason} with another reason` : '',
      skipped.noOrigin ? `${skipped.noOrigin} without original_topic` : '',
    ].filter(Boolean);
    context.out(`replayed ${replayed} dead letters to their original topics from ${topics.join(', ') || 'no DLQ topic'}; skipped ${skipped.rejected + skipped.reason + skipped.noOrigin}${notes.length ? ` (${notes.join(', ')})` : ''}`);
  });
}

/** streamline dlq list | replay */
export const dlqCommand: Command = async (args, context) => {
  const [sub, ...rest] = args;
  if (sub === 'list') return list(rest, context);
  if (sub === 'replay') return replay(rest, context);
  throw new CliError(`dlq needs list or replay; usage: ${USAGE}`, 2);
};

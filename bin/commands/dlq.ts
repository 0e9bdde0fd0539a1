import type { Log, LogRecord } from '../../log/Log.js';
import { UnknownTopicError } from '../../log/Log.js';
import { readPipelineConfig } from '../../processors/index.js';
import { quarantineTopic, replayDeadLetters } from '../../processors/DeadLetterReplay.js';
import { compileSafePattern, type SafePattern } from '../../processors/SafePattern.js';
import { DLQ_REASON, DLQ_TIMESTAMP, ORIGINAL_OFFSET, ORIGINAL_PARTITION, ORIGINAL_TOPIC } from '../../topology/index.js';
import { readTopicNames, type Env } from '../../config/index.js';
import { CliError, type CliContext, type Command, parseCommand, progressBar, withLog } from './cli-support.js';

const USAGE = 'streamline dlq list [--topic <t>] [--limit <n>] [--json] | streamline dlq replay [--topic <t>] [--reason <re2 pattern>] [--limit <n>] [--include-rejected] [--from-beginning]';

/** The DLQ the ingress and the topology share (DLQ_TOPIC, default events-dlq; config/TopicNames.ts). */
function dlqTopics(env: Env): string[] {
  return [readTopicNames(env).dlq];
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

/**
 * Sends dead letters back to their original_topic through processors' replayDeadLetters, the
 * same code as POST /processor/dlq/replay: the replay cursor kept in the log makes a second run
 * find nothing new, records replayed DLQ_MAX_REPLAYS times go to `<dlq>.quarantine`, and events
 * the ingress refused (no original_offset: replaying an invalid event only dead-letters it
 * again) are skipped unless --include-rejected. --from-beginning ignores the cursor.
 */
async function replay(args: string[], context: CliContext): Promise<void> {
  const { values, env } = parseCommand(
    args,
    { topic: { type: 'string' }, reason: { type: 'string' }, limit: { type: 'string' }, 'include-rejected': { type: 'boolean' }, 'from-beginning': { type: 'boolean' } },
    context,
    USAGE,
  );
  let limit = positiveInt('limit', values.limit, Number.MAX_SAFE_INTEGER);
  let reason: SafePattern | undefined;
  try {
    reason = typeof values.reason === 'string' ? compileSafePattern(values.reason) : undefined;
  } catch (error) {
    throw new CliError(`--reason is not a pattern RE2 accepts: ${(error as Error).message}`, 2);
  }
  let maxReplays: number;
  try {
    maxReplays = readPipelineConfig(env).dlqMaxReplays;
  } catch (error) {
    throw new CliError(`configuration error: ${(error as Error).message}`);
  }
  await withLog(env, async (log) => {
    const topics = await existingTopics(log, typeof values.topic === 'string' ? [values.topic] : dlqTopics(env));
    const totals = { replayed: 0, quarantined: 0, rejected: 0, reason: 0, noOrigin: 0, held: 0, more: false };
    for (const topic of topics) {
      if (limit <= 0) break;
      const inTopic = (await span(log, topic)).reduce((sum, s) => sum + s.end - s.start, 0);
      const bar = progressBar(context, `replay ${topic}`, inTopic);
      try {
        const result = await replayDeadLetters(log, {
          dlqTopic: topic,
          reason,
          limit,
          includeRejected: values['include-rejected'] === true,
          fromBeginning: values['from-beginning'] === true,
          maxReplays,
          // Records behind the cursor were examined by an earlier replay: they count as done.
          onProgress: (examined, toExamine) => bar.update(Math.max(0, inTopic - toExamine) + examined),
        });
        limit -= result.replayed;
        totals.replayed += result.replayed;
        totals.quarantined += result.quarantined;
        totals.rejected += result.skipped.rejected;
        totals.reason += result.skipped.reason;
        totals.noOrigin += result.skipped.noOrigin;
        totals.held += result.held;
        totals.more ||= result.more;
      } catch (error) {
        if (error instanceof UnknownTopicError) throw new CliError(`a dead letter's original topic does not exist: ${error.topic} (nothing of that batch was replayed)`);
        throw error;
      } finally {
        bar.stop();
      }
    }
    const notes = [
      totals.rejected ? `${totals.rejected} refused by the ingress (--include-rejected to replay them)` : '',
      totals.reason ? `${totals.reason} with another reason` : '',
      totals.noOrigin ? `${totals.noOrigin} without original_topic` : '',
    ].filter(Boolean);
    const after = [
      totals.quarantined ? `; quarantined ${totals.quarantined} replayed ${maxReplays} times already (to ${topics.map(quarantineTopic).join(', ')})` : '',
      totals.held ? `; ${totals.held} held for a replay with their reason` : '',
      totals.more ? '; more remain (run again)' : '',
    ].join('');
    context.out(`replayed ${totals.replayed} dead letters to their original topics from ${topics.join(', ') || 'no DLQ topic'}; skipped ${totals.rejected + totals.reason + totals.noOrigin}${notes.length ? ` (${notes.join(', ')})` : ''}${after}`);
  });
}

/** streamline dlq list | replay */
export const dlqCommand: Command = async (args, context) => {
  const [sub, ...rest] = args;
  if (sub === 'list') return list(rest, context);
  if (sub === 'replay') return replay(rest, context);
  throw new CliError(`dlq needs list or replay; usage: ${USAGE}`, 2);
};

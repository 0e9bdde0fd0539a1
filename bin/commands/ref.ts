import fs from 'node:fs';
import { readIngressConfig } from '../../ingress/index.js';
import { UnknownTopicError } from '../../log/Log.js';
import { loadReferenceData, parseNdjson, readPipelineConfig, ReferenceDataError } from '../../processors/index.js';
import { CliError, type Command, parseCommand, progressBar, withLog } from './cli-support.js';

const USAGE = 'streamline ref load <users|items> <file.ndjson> [--data-dir <dir>]';
const CHUNK = 5000;

/**
 * streamline ref load users|items <file.ndjson>: reference rows into ref.users / ref.items
 * (REF_USERS_TOPIC / REF_ITEMS_TOPIC) with the processors' loader. Every row is checked before
 * any is written. ref.users gets the landing topic's partition count: the enrichment join is
 * co-partitioned.
 */
export const refCommand: Command = async (args, context) => {
  const { positionals, env } = parseCommand(args, {}, context, USAGE);
  const [sub, kind, file] = positionals;
  if (sub !== 'load' || (kind !== 'users' && kind !== 'items') || !file || positionals.length > 3) throw new CliError(`usage: ${USAGE}`, 2);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  let rows: Record<string, unknown>[];
  try {
    rows = parseNdjson(text);
  } catch (error) {
    throw new CliError(`${file}: ${(error as Error).message}`);
  }
  const idField = kind === 'users' ? 'user_id' : 'item_id';
  const bad = rows.findIndex((row) => typeof row[idField] !== 'string' || (row[idField] as string).length === 0);
  if (bad >= 0) throw new CliError(`${file}: row ${bad + 1} has no ${idField} (nothing was loaded)`);
  let pipeline;
  let landingPartitions: number;
  try {
    pipeline = readPipelineConfig(env);
    landingPartitions = readIngressConfig(env).landingPartitions;
  } catch (error) {
    throw new CliError(`configuration error: ${(error as Error).message}`);
  }

  await withLog(
    env,
    async (log) => {
      let partitions = 1;
      if (kind === 'users') {
        partitions = await log.partitionCount(pipeline.landingTopic).catch((error: unknown) => {
          if (error instanceof UnknownTopicError) return landingPartitions;
          throw error;
        });
      }
      const bar = progressBar(context, `load ${kind}`, rows.length);
      let written = 0;
      let topic = pipeline.referenceTopics[kind];
      try {
        for (let i = 0; i < rows.length; i += CHUNK) {
          const result = await loadReferenceData(log, kind, rows.slice(i, i + CHUNK), { topics: pipeline.referenceTopics, partitions });
          written += result.written;
          topic = result.topic;
          bar.update(written);
        }
      } catch (error) {
        if (error instanceof ReferenceDataError) throw new CliError(`${file}: ${error.message}`);
        throw error;
      } finally {
        bar.stop();
      }
      const deletes = rows.filter((row) => row.deleted === true).length;
      context.out(`loaded ${written} ${kind} rows into ${topic} (${deletes} deletes) from ${file}`);
    },
    { mustExist: false },
  );
};

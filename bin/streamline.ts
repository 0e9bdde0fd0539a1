#!/usr/bin/env node
/**
 * streamline: the pipeline's command line.
 *
 *   streamline start                          run the service (as npm start)
 *   streamline describe [--mermaid]           the default topology as text or a Mermaid graph
 *   streamline topics [--group <id>]          topics, partitions, offsets, committed offsets and lag
 *   streamline dlq list | replay              dead letters: show them, send them back to their topic
 *   streamline ref load <users|items> <file>  reference data from NDJSON into ref.users / ref.items
 *   streamline produce <file.ndjson | ->      events onto the landing topic (backfills)
 *   streamline reset [--yes]                  drop the application's local state
 *   streamline reprocess --from earliest|<time> [--yes]  process the retained history again, tables rebuilt once
 *   streamline backfill --aggregator <name> [--yes]       a new aggregator over the retained history
 *
 * Settings come from the same environment variables as the service (DATA_DIR, KAFKA_BROKERS,
 * APPLICATION_ID, ...); --data-dir overrides DATA_DIR. Commands that read the log open the
 * embedded log directly, so they need the service stopped (RocksDB lock), or KAFKA_BROKERS.
 */
import { CliError, type CliContext, type Command } from './commands/cli-support.js';
import { backfillCommand } from './commands/backfill.js';
import { describeCommand } from './commands/describe.js';
import { dlqCommand } from './commands/dlq.js';
import { produceCommand } from './commands/produce.js';
import { refCommand } from './commands/ref.js';
import { reprocessCommand } from './commands/reprocess.js';
import { resetCommand } from './commands/reset.js';
import { startCommand } from './commands/start.js';
import { topicsCommand } from './commands/topics.js';

const COMMANDS: Record<string, { run: Command; help: string }> = {
  start: { run: startCommand, help: 'run the service (ingress, topology, sinks, HTTP API) as npm start does' },
  describe: { run: describeCommand, help: 'print the default topology; --mermaid for a Mermaid graph; --url <service> for the running one' },
  topics: { run: topicsCommand, help: 'topics, partitions, start/end offsets, committed offsets and lag per group (--group <id> adds one)' },
  dlq: { run: dlqCommand, help: 'dlq list [--limit n] [--json] | dlq replay [--reason regex] [--limit n]: dead letters, replayed to original_topic' },
  ref: { run: refCommand, help: 'ref load <users|items> <file.ndjson>: reference rows into ref.users / ref.items' },
  produce: { run: produceCommand, help: 'produce <file.ndjson | -> [--batch n] [--url service]: events onto the landing topic (Kafka directly; embedded through the running service)' },
  reset: { run: resetCommand, help: 'delete the local state stores (restored from changelogs on the next start); asks first, or --yes' },
  reprocess: {
    run: reprocessCommand,
    help: 'reprocess --from earliest|<ISO time> [--yes] [--dry-run]: with the service stopped, process the retained input history again (offsets reset, internal topics and local state deleted, the ClickHouse tables rebuilt so nothing is doubled)',
  },
  backfill: {
    run: backfillCommand,
    help: 'backfill --aggregator <name> [--yes]: with the service stopped, run one newly added aggregator over the retained landing history and hand its state over (docs/REPROCESSING.md)',
  },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return [
    'usage: streamline <command> [options]',
    '',
    ...Object.entries(COMMANDS).map(([name, { help: text }]) => `  ${name.padEnd(width)}  ${text}`),
    '',
    'Options every command takes: --data-dir <dir> (default $DATA_DIR or ./data).',
    'With KAFKA_BROKERS set, topics/dlq/ref work against Kafka; otherwise they open the embedded',
    'log under <data-dir>/log directly, which only works while the service is stopped.',
  ].join('\n');
}

export async function main(argv: string[], context: CliContext): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    context.out(help());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) throw new CliError(`unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')} (streamline --help)`, 2);
  await command.run(args, context);
  return 0;
}

main(process.argv.slice(2), { env: process.env, out: (line) => process.stdout.write(line + '\n'), interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY) })
  .then((code) => {
    // start keeps running (its signal handlers exit); the others end here.
    if (process.argv[2] !== 'start') process.exitCode = code;
  })
  .catch((error: unknown) => {
    const message = error instanceof CliError ? error.message : `unexpected error: ${(error as Error).stack ?? String(error)}`;
    process.stderr.write(`streamline: ${message}\n`);
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
  });

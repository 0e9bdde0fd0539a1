import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import cliProgress from 'cli-progress';
import { readAppConfig, type AppConfig } from '../../app/AppConfig.js';
import { ConfigError, type Env } from '../../config/index.js';
import { openLog } from '../../app/OpenLog.js';
import type { Log } from '../../log/Log.js';
import { NamedError } from '../../errors/NamedError.js';

/** A failure the user can act on: printed as one line, exit code 1 (2 for usage errors). */
export class CliError extends NamedError {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface CliContext {
  env: Env;
  out: (line: string) => void;
  /** Whether a person is at the terminal (prompts, progress bars). */
  interactive: boolean;
}

export type Command = (args: string[], context: CliContext) => Promise<void>;

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** util.parseArgs with usage errors turned into CliError(…, 2) and --data-dir applied to the env. */
export function parseCommand(
  args: string[],
  options: NonNullable<ParseArgsConfig['options']>,
  context: CliContext,
  usage: string,
): { values: OptionValues; positionals: string[]; env: Env } {
  let parsed: { values: OptionValues; positionals: string[] };
  try {
    parsed = parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (error) {
    throw new CliError(`${(error as Error).message}; usage: ${usage}`, 2);
  }
  const dataDir = parsed.values['data-dir'];
  const env = typeof dataDir === 'string' ? { ...context.env, DATA_DIR: dataDir } : context.env;
  return { ...parsed, env };
}

const COMMON: NonNullable<ParseArgsConfig['options']> = { 'data-dir': { type: 'string' } };

export function appConfig(env: Env): AppConfig {
  try {
    return readAppConfig(env);
  } catch (error) {
    throw new CliError(error instanceof ConfigError ? `configuration error: ${error.message}` : (error as Error).message);
  }
}

function isLockError(error: unknown): boolean {
  for (let e = error as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (/lock/i.test(e.message ?? '')) return true;
  }
  return false;
}

/**
 * The log the service uses: Kafka when KAFKA_BROKERS is set, else the embedded log under
 * DATA_DIR/log, opened directly. RocksDB allows one process per database, so the embedded log
 * can only be opened while the service is stopped.
 */
export async function openCliLog(env: Env, options: { mustExist?: boolean } = {}): Promise<{ log: Log; config: AppConfig }> {
  const config = appConfig(env);
  const dir = path.join(config.dataDir, 'log');
  if (config.logMode === 'embedded' && options.mustExist !== false && !fs.existsSync(dir)) {
    throw new CliError(`no embedded log at ${dir}: set DATA_DIR (or --data-dir) to the service's data directory, or KAFKA_BROKERS for Kafka`);
  }
  try {
    return { log: await openLog(config, env), config };
  } catch (error) {
    if (config.logMode === 'embedded' && isLockError(error)) {
      throw new CliError(
        `the embedded log at ${dir} is locked: a running streamline service holds it (RocksDB allows one process). Stop the service first, or use its HTTP API while it runs`,
      );
    }
    throw new CliError(`cannot open the ${config.logMode} log: ${(error as Error).message}`);
  }
}

/** Runs fn with the log open and closes it whatever happens. */
export async function withLog<T>(env: Env, fn: (log: Log, config: AppConfig) => Promise<T>, options?: { mustExist?: boolean }): Promise<T> {
  const { log, config } = await openCliLog(env, options);
  try {
    return await fn(log, config);
  } finally {
    await log.close();
  }
}

/** A progress bar on stderr when a person watches; silent otherwise (the summary line still prints). */
export function progressBar(context: CliContext, label: string, total: number): { update(value: number): void; stop(): void } {
  if (!context.interactive || total <= 0) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} | {duration_formatted}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return { update: (value) => bar.update(value), stop: () => bar.stop() };
}

export async function confirm(context: CliContext, question: string): Promise<boolean> {
  if (!context.interactive) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** Left-aligned columns. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

import { ConfigError, type Env } from '../config/index.js';

/**
 * Why the start failed and what to do, in one line (issue 21 item 5). A broker that is down is not
 * fatal any more (app/StartSequence.ts); what still is: a bad setting, a port in use, a DATA_DIR
 * that cannot be written or is held by another process, a full disk, a ClickHouse server that
 * does not answer.
 */
export function explainStartError(error: unknown, env: Env): string {
  const message = messageOf(error);
  const code = codeOf(error);
  const dataDir = env.DATA_DIR ?? './data';

  if (error instanceof ConfigError || findIn(error, (e) => e instanceof ConfigError)) {
    const config = (error instanceof ConfigError ? error : findIn(error, (e) => e instanceof ConfigError)) as ConfigError;
    return `configuration error: ${config.message}: correct it (docs/CONFIG.md lists every setting with its default)`;
  }
  if (code === 'EADDRINUSE') {
    const address = /address already in use (\S+)/.exec(message)?.[1] ?? `${env.HOST ?? '0.0.0.0'}:${env.PORT ?? '8080'}`;
    return `${address} is already in use by another process (another streamline?): stop it, or set PORT (ADMIN_PORT for the admin listener) to a free port`;
  }
  if ((code === 'EACCES' || code === 'EPERM') && syscallOf(error) === 'listen') {
    return `no permission to listen on ${env.HOST ?? '0.0.0.0'}:${env.PORT ?? '8080'} (${code}): use a port above 1023, or grant the process CAP_NET_BIND_SERVICE`;
  }
  const lockedPath = /While lock file: (\S+?)\/LOCK/.exec(message)?.[1];
  if (lockedPath) {
    return `${lockedPath} is locked by another process (another streamline on DATA_DIR=${dataDir}?): stop that process, or give this one its own DATA_DIR`;
  }
  if (/cannot lock|already locked|lock.*held|database is locked/i.test(message)) {
    return `the ClickHouse data under ${dataDir} is in use by another process (another streamline on the same DATA_DIR?): stop it, or set DATA_DIR to another directory (${firstLine(message)})`;
  }
  if (code === 'ENOSPC' || /No space left on device/i.test(message)) {
    return `no space left on the device holding DATA_DIR=${dataDir}: free some space, or set DATA_DIR to a larger volume`;
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || /Permission denied|Read-only file system/i.test(message)) {
    const where = pathOf(error) ?? dataDir;
    return `DATA_DIR=${dataDir} is not writable (${code ?? 'permission denied'} on ${where}): fix its owner or permissions, or set DATA_DIR to a writable directory`;
  }
  const brokers = env.KAFKA_BROKERS ?? env.KAFKA_BOOTSTRAP_SERVERS;
  if (brokers && /Cannot connect to any broker|PLT_KFK_NETWORK|metadata failed/i.test(`${message} ${code ?? ''}`)) {
    return `no Kafka broker answers at ${brokers}: start one with \`npm run kafka\`, or unset KAFKA_BROKERS for embedded mode`;
  }
  if (env.CLICKHOUSE_URL && (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || /ECONNREFUSED|ENOTFOUND|socket hang up/i.test(message))) {
    return `ClickHouse does not answer at ${env.CLICKHOUSE_URL} (${code ?? firstLine(message)}): start it, or unset CLICKHOUSE_URL to use the embedded chDB`;
  }
  return `failed to start: ${firstLine(message)}: see the error details in this log line (LOG_LEVEL=debug shows more)`;
}

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}

/** The error and its causes (cause chains, AggregateError.errors), depth-limited. */
function* chain(error: unknown, depth = 0): Generator<unknown> {
  if (!error || depth > 6) return;
  yield error;
  if (typeof error !== 'object') return;
  yield* chain((error as { cause?: unknown }).cause, depth + 1);
  for (const inner of (error as { errors?: unknown[] }).errors ?? []) yield* chain(inner, depth + 1);
}

function findIn(error: unknown, test: (e: unknown) => boolean): unknown {
  for (const e of chain(error)) if (test(e)) return e;
  return undefined;
}

function messageOf(error: unknown): string {
  return [...chain(error)].map((e) => (e instanceof Error ? e.message : String(e))).join(' | ');
}

function codeOf(error: unknown): string | undefined {
  for (const e of chain(error)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  }
  for (const e of chain(error)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function syscallOf(error: unknown): string | undefined {
  for (const e of chain(error)) {
    const syscall = (e as { syscall?: unknown }).syscall;
    if (typeof syscall === 'string') return syscall;
  }
  return undefined;
}

function pathOf(error: unknown): string | undefined {
  for (const e of chain(error)) {
    const found = (e as { path?: unknown }).path;
    if (typeof found === 'string') return found;
  }
  return undefined;
}

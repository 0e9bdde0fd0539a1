import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A real Apache Kafka broker for tests, started through scripts/kafka-broker/kafka-broker.sh (the same script
 * as `npm run kafka`) on a free port with its own state dir.
 *
 * Global setup starts one per jest run when a Kafka test is in it and KAFKA_BROKERS is unset, and
 * hands its address to the suites as TEST_KAFKA_BROKERS. Suites that must stop a broker (outage
 * tests) start their own with startKafkaBroker so they never take down the shared one.
 */

/**
 * The repository root: the nearest folder up from the working directory holding the script.
 * (Not import.meta.url: jest loads this file as CommonJS for global setup and as ESM in tests.)
 */
function findRoot(): string {
  let dir = process.cwd();
  for (;;) {
    if (fs.existsSync(path.join(dir, 'scripts/kafka-broker/kafka-broker.sh'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

const ROOT = findRoot();
const SCRIPT = path.join(ROOT, 'scripts/kafka-broker/kafka-broker.sh');
const LIB_JAR = path.join(ROOT, '.kafka/lib/kafka_2.13-4.1.1.jar');

export interface KafkaBroker {
  /** "127.0.0.1:<port>" */
  readonly brokers: string;
  readonly port: number;
  readonly stateDir: string;
  /** Starts it again on the same port and data (after stop). */
  start(): Promise<void>;
  /** Clean stop by pid; resolves once the JVM has exited. */
  stop(): Promise<void>;
  /** stop() and delete the state dir. */
  destroy(): Promise<void>;
}

/** Why a broker cannot be started here, or undefined when Java (and Maven or cached jars) exist. */
export function kafkaToolsMissing(): string | undefined {
  const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
  if (!has('java')) {
    return 'Kafka tests need Java 17+ to run a real broker, and `java` is not on PATH (apt-get install openjdk-17-jre-headless), or set KAFKA_BROKERS to an existing broker';
  }
  if (!fs.existsSync(LIB_JAR) && !has('mvn')) {
    return 'Kafka tests need Maven to fetch the Kafka jars into .kafka/lib, and `mvn` is not on PATH (apt-get install maven), or set KAFKA_BROKERS to an existing broker';
  }
  return undefined;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const LOWEST_TEST_PORT = 20000;

/**
 * Where a broker's listeners may go: from 20000 up to the kernel's ephemeral range
 * (net.ipv4.ip_local_port_range), which the kernel hands out to every outgoing connection and
 * port-0 listener. A port checked free there can be taken by one of those in the seconds before
 * the JVM binds it (CI: the controller's port went to a connection of another test).
 */
function brokerPortRange(): { from: number; to: number } {
  let ephemeralFrom = 32768;
  try {
    ephemeralFrom = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralFrom;
  } catch {
    // not Linux: the usual range
  }
  // A range too small to pick from (ephemeral ports starting low): above the ephemeral range's usual end instead.
  return ephemeralFrom - LOWEST_TEST_PORT >= 2000 ? { from: LOWEST_TEST_PORT, to: ephemeralFrom } : { from: 61000, to: 65000 };
}

function randomPort({ from, to }: { from: number; to: number }): number {
  return from + Math.floor(Math.random() * (to - from - 1));
}

/** A port p such that p and p+1 (the controller) are both free right now, outside the ephemeral range. */
export async function freeBrokerPort(): Promise<number> {
  const range = brokerPortRange();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = randomPort(range);
    if ((await portFree(port)) && (await portFree(port + 1))) return port;
  }
  throw new Error('no free pair of ports for a Kafka broker');
}

function runScript(command: 'start' | 'stop', port: number, stateDir: string, extraEnv: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, command], {
      // KAFKA_OWNER_PID: the broker is stopped if this process dies without its teardown.
      env: { ...process.env, KAFKA_PORT: String(port), KAFKA_STATE_DIR: stateDir, KAFKA_OWNER_PID: String(process.pid), ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve(stdout.trim());
      else reject(new Error(`scripts/kafka-broker/kafka-broker.sh ${command} failed (exit ${code}):\n${stderr.trim()}`));
    });
  });
}

export async function startKafkaBroker(options: { port?: number; stateDir?: string } = {}): Promise<KafkaBroker> {
  const missing = kafkaToolsMissing();
  if (missing) throw new Error(missing);
  const port = options.port ?? (await freeBrokerPort());
  const stateDir = options.stateDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-kafka-'));
  await runScript('start', port, stateDir);
  const broker: KafkaBroker = {
    brokers: `127.0.0.1:${port}`,
    port,
    stateDir,
    start: async () => {
      await runScript('start', port, stateDir);
    },
    stop: async () => {
      await runScript('stop', port, stateDir);
    },
    destroy: async () => {
      await runScript('stop', port, stateDir);
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return broker;
}

export interface SaslSslKafkaBroker extends KafkaBroker {
  /** "127.0.0.1:<port>" of the SASL_SSL listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). */
  readonly saslSslBrokers: string;
  /** PEM of the test CA (made by keytool) that signed the broker's certificate. */
  readonly caFile: string;
  /** user -> password accepted on the SASL_SSL listener. */
  readonly users: Readonly<Record<string, string>>;
  /** With mutualTls: "127.0.0.1:<port>" of an SSL listener that requires a client certificate. */
  readonly sslBrokers?: string;
  /** With mutualTls: a client certificate and key (PEM) signed by the test CA. */
  readonly clientCertFile?: string;
  readonly clientKeyFile?: string;
}

/**
 * A broker of its own with a SASL_SSL listener next to the usual PLAINTEXT one (scripts/
 * kafka-broker.sh with KAFKA_SASL_SSL_PORT): for TLS/SASL tests, never the run's shared broker.
 * Users get PLAIN and SCRAM credentials (user names and passwords: letters, digits, . _ -).
 */
export async function startSaslSslKafkaBroker(options: { users?: Record<string, string>; mutualTls?: boolean } = {}): Promise<SaslSslKafkaBroker> {
  const missing = kafkaToolsMissing();
  if (missing) throw new Error(missing);
  const users = options.users ?? { streamline: 'streamline-secret' };
  const port = await freeBrokerPort();
  const taken = new Set([port, port + 1]);
  const range = brokerPortRange();
  const extraPort = async (what: string): Promise<number> => {
    for (let attempt = 0; attempt < 50; attempt++) {
      const candidate = randomPort(range);
      if (!taken.has(candidate) && (await portFree(candidate))) {
        taken.add(candidate);
        return candidate;
      }
    }
    throw new Error(`no free port for the ${what} listener`);
  };
  const saslPort = await extraPort('SASL_SSL');
  const sslPort = options.mutualTls ? await extraPort('SSL') : undefined;
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-kafka-sasl-'));
  const env = {
    KAFKA_SASL_SSL_PORT: String(saslPort),
    KAFKA_SASL_USERS: Object.entries(users)
      .map(([user, password]) => `${user}:${password}`)
      .join(','),
    KAFKA_TLS_DIR: path.join(stateDir, 'tls'),
    ...(sslPort ? { KAFKA_SSL_PORT: String(sslPort) } : {}),
  };
  await runScript('start', port, stateDir, env);
  return {
    brokers: `127.0.0.1:${port}`,
    saslSslBrokers: `127.0.0.1:${saslPort}`,
    caFile: path.join(stateDir, 'tls', 'ca.pem'),
    users,
    ...(sslPort
      ? { sslBrokers: `127.0.0.1:${sslPort}`, clientCertFile: path.join(stateDir, 'tls', 'client.pem'), clientKeyFile: path.join(stateDir, 'tls', 'client.key') }
      : {}),
    port,
    stateDir,
    start: async () => {
      await runScript('start', port, stateDir, env);
    },
    stop: async () => {
      await runScript('stop', port, stateDir, env);
    },
    destroy: async () => {
      await runScript('stop', port, stateDir, env);
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Stops the broker global setup started (state dir and port recorded in env vars). */
export async function stopKafkaBroker(port: number, stateDir: string): Promise<void> {
  await runScript('stop', port, stateDir);
  fs.rmSync(stateDir, { recursive: true, force: true });
}

/**
 * The broker address for a Kafka test. Throws (the test fails, it is not skipped: CI must run
 * these) when global setup could not start one, with the reason.
 */
export function testKafkaBrokers(): string {
  const brokers = process.env.TEST_KAFKA_BROKERS;
  if (brokers) return brokers;
  const reason = process.env.TEST_KAFKA_ERROR;
  throw new Error(
    reason
      ? `No Kafka broker for this test: ${reason}`
      : 'No Kafka broker for this test: global setup did not start one: it starts one only when a selected test file has "kafka" in its path or calls testKafkaBrokers() (or set TEST_KAFKA=always)',
  );
}

function listTestFiles(dir: string, out: string[]): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) listTestFiles(full, out);
    else if (entry.name.endsWith('.test.ts')) out.push(full);
  }
}

interface PatternsLike {
  patterns?: string[];
  isSet?: () => boolean;
  toExecutor?: (options: { rootDir: string }) => { isMatch(absPath: string): boolean };
}

/**
 * Whether this jest run includes a Kafka test, so a run of other suites does not pay for a JVM.
 * A test counts when its path mentions "kafka" or its source names the broker (testKafkaBrokers,
 * TEST_KAFKA_BROKERS, kafka-broker, openKafkaLog, KafkaLog) or runs in every log mode (logModes(),
 * whose Kafka mode needs the broker: without it the Kafka half of such a test would not run at all);
 * TEST_KAFKA=always forces a broker.
 * When the selection cannot be read (related/changed-file modes, an unexpected jest config
 * shape), assume it does.
 */
const USES_BROKER = /testKafkaBrokers|TEST_KAFKA_BROKERS|kafka-broker|openKafkaLog|KafkaLog|logModes\(/;

export function runNeedsKafka(
  globalConfig: { rootDir?: string; testPathPatterns?: unknown; findRelatedTests?: boolean; onlyChanged?: boolean; watch?: boolean; watchAll?: boolean },
  projectConfig?: { roots?: string[]; rootDir?: string },
): boolean {
  try {
    if (process.env.TEST_KAFKA === 'always') return true;
    if (globalConfig.findRelatedTests || globalConfig.onlyChanged || globalConfig.watch || globalConfig.watchAll) return true;
    const rootDir = projectConfig?.rootDir ?? globalConfig.rootDir ?? ROOT;
    const roots = projectConfig?.roots?.length ? projectConfig.roots : [path.join(rootDir, 'test')];
    const files: string[] = [];
    for (const root of roots) if (fs.existsSync(root)) listTestFiles(root, files);
    const patterns = globalConfig.testPathPatterns as PatternsLike | undefined;
    const selected =
      patterns && typeof patterns.toExecutor === 'function' && patterns.patterns && patterns.patterns.length > 0
        ? files.filter((file) => patterns.toExecutor!({ rootDir }).isMatch(file))
        : files;
    return selected.some((file) => /kafka/i.test(path.relative(rootDir, file)) || USES_BROKER.test(fs.readFileSync(file, 'utf8')));
  } catch {
    return true;
  }
}

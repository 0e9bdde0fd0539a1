import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Run, RunOutputs, OutputRecord } from './runs.js';

const MODULE = path.resolve(import.meta.dirname, '../../conformance/kafka-streams');
const CLASSES = path.join(MODULE, 'target/classes');
/** Written last by `mvn package`: the dependencies' jars in ~/.m2. */
const CLASSPATH_FILE = path.join(MODULE, 'target/classpath.txt');
const KAFKA_STREAMS_IN_M2 = path.join(os.homedir(), '.m2/repository/org/apache/kafka/kafka-streams/4.4.0');

function requireTool(command: string, args: string[]): void {
  const probe = spawnSync(command, args, { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`the conformance suite needs ${command} (Java 17 and Maven; .ci/run installs both): ${probe.error?.message ?? probe.stderr}`);
  }
}

function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'target') continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * Builds the module unless its build is newer than its sources (offline when ~/.m2 already has
 * Kafka Streams) and returns the java classpath to run it with.
 */
export function buildKafkaStreamsSide(): string {
  requireTool('java', ['-version']);
  const classpath = () => `${CLASSES}${path.delimiter}${fs.readFileSync(CLASSPATH_FILE, 'utf8').trim()}`;
  if (fs.existsSync(CLASSPATH_FILE) && fs.statSync(CLASSPATH_FILE).mtimeMs >= newestSourceMtime(MODULE)) return classpath();
  requireTool('mvn', ['-v']);
  const mvn = (offline: boolean) => {
    const args = ['-q', '-B', ...(offline ? ['-o'] : []), '-f', path.join(MODULE, 'pom.xml'), 'package'];
    return { args, build: spawnSync('mvn', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }) };
  };
  // Offline first when Kafka Streams is already in ~/.m2; a plugin missing there means one online try.
  let attempt = mvn(fs.existsSync(KAFKA_STREAMS_IN_M2));
  if (attempt.build.status !== 0 && attempt.args.includes('-o')) attempt = mvn(false);
  if (attempt.build.status !== 0) throw new Error(`mvn ${attempt.args.join(' ')} failed (${attempt.build.status}):\n${attempt.build.stdout}\n${attempt.build.stderr}`);
  // Marks the build as current even when Maven left an unchanged classpath file untouched.
  const now = new Date();
  fs.utimesSync(CLASSPATH_FILE, now, now);
  return classpath();
}

/**
 * Runs java and resolves with its exit code and stderr; the event loop stays free meanwhile.
 * Aborting `signal` kills the JVM (else a failed test would leave it running after jest exits).
 */
function runJava(args: string[], signal?: AbortSignal): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('java', args, { stdio: ['ignore', 'ignore', 'pipe'], signal, killSignal: 'SIGKILL' });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

/**
 * Runs every run in one JVM (a TopologyTestDriver per run) and reads its outputs. Asynchronous,
 * so our side can run meanwhile; `signal` stops the JVM when that side has failed.
 */
export async function runKafkaStreams(runs: Run[], signal?: AbortSignal): Promise<RunOutputs> {
  const classpath = buildKafkaStreamsSide();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-conformance-jvm-'));
  try {
    const inputFile = path.join(dir, 'inputs.json');
    const outputFile = path.join(dir, 'outputs.json');
    fs.writeFileSync(inputFile, JSON.stringify({ runs }));
    const java = await runJava(['-cp', classpath, 'dev.streamline.conformance.Main', inputFile, outputFile], signal);
    if (java.status !== 0) throw new Error(`java dev.streamline.conformance.Main failed (${java.status}):\n${java.stderr}`);
    const parsed = JSON.parse(fs.readFileSync(outputFile, 'utf8')) as { runs: Array<{ id: string; outputs: Record<string, OutputRecord[]>; error?: string }> };
    const outputs: RunOutputs = new Map();
    for (const run of parsed.runs) {
      if (run.error) throw new Error(`Kafka Streams failed on run ${run.id}: ${run.error}`);
      outputs.set(run.id, run.outputs);
    }
    return outputs;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

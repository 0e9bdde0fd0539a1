import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Run, RunOutputs, OutputRecord } from './runs.js';

const MODULE = path.resolve(import.meta.dirname, '../../conformance/kafka-streams');
const JAR = path.join(MODULE, 'target/streamline-conformance.jar');
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

/** Builds the jar unless it is newer than the module's sources; offline when ~/.m2 already has Kafka Streams. */
export function buildKafkaStreamsSide(): string {
  requireTool('java', ['-version']);
  if (fs.existsSync(JAR) && fs.statSync(JAR).mtimeMs >= newestSourceMtime(MODULE)) return JAR;
  requireTool('mvn', ['-v']);
  const args = ['-q', '-B', ...(fs.existsSync(KAFKA_STREAMS_IN_M2) ? ['-o'] : []), '-f', path.join(MODULE, 'pom.xml'), 'package'];
  const build = spawnSync('mvn', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (build.status !== 0) throw new Error(`mvn ${args.join(' ')} failed (${build.status}):\n${build.stdout}\n${build.stderr}`);
  return JAR;
}

/** Runs java and resolves with its exit code and stderr; the event loop stays free meanwhile. */
function runJava(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('java', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

/**
 * Runs every run in one JVM (a TopologyTestDriver per run) and reads its outputs. Asynchronous,
 * so our side can run meanwhile.
 */
export async function runKafkaStreams(runs: Run[]): Promise<RunOutputs> {
  const jar = buildKafkaStreamsSide();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-conformance-jvm-'));
  try {
    const inputFile = path.join(dir, 'inputs.json');
    const outputFile = path.join(dir, 'outputs.json');
    fs.writeFileSync(inputFile, JSON.stringify({ runs }));
    const java = await runJava(['-jar', jar, inputFile, outputFile]);
    if (java.status !== 0) throw new Error(`java -jar ${jar} failed (${java.status}):\n${java.stderr}`);
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

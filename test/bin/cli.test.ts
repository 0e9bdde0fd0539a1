import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import { readIngressConfig } from '../../ingress/index.js';
import type { Log } from '../../log/Log.js';
import { buildDefaultPipeline, ensurePipelineTopics, readPipelineConfig } from '../../processors/index.js';
import { StreamsApp, StreamsBuilder } from '../../topology/index.js';
import { runStreamline, type CliRun } from '../support/cli-runner.js';
import { readAll, waitForCaughtUp } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

const DLQ = readIngressConfig({}).dlqTopic;
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CLI = path.join(ROOT, 'bin', 'streamline.ts');

/** The CLI as a user runs it, at LOG_LEVEL warn unless `env` says otherwise. */
function streamline(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runStreamline(args, { LOG_LEVEL: 'warn', ...env });
}

const landing = (i: number, user: string) =>
  JSON.stringify({ v: 1, event_id: `e-${i}`, id_assigned: false, event_type: 'product', source: 'product', received_at: 1708732800000 + i, payload: { event_name: 'product_view', user_id: user, timestamp: 1708732800000 + i, channel: 'web' } });

async function withLog<T>(dataDir: string, fn: (log: Log) => Promise<T>): Promise<T> {
  const log = await openEmbeddedLog({ dir: path.join(dataDir, 'log') });
  try {
    return await fn(log);
  } finally {
    await log.close();
  }
}

const ADMIN_TOKEN = 'cli-admin-token-0123456789';

describe('streamline CLI', () => {
  const dataDir = tempDir('cli');
  const env = { DATA_DIR: dataDir };

  beforeAll(async () => {
    // A data dir as a stopped service leaves it: the default pipeline ran over 10 events and a
    // poison record (now in the DLQ), committed, and closed.
    const log = await openEmbeddedLog({ dir: path.join(dataDir, 'log'), defaultPartitions: 2 });
    // As app/Service.ts: one DLQ for the ingress and the topology.
    const config = { ...readPipelineConfig({}), dlqTopic: DLQ };
    const builder = new StreamsBuilder();
    const pipeline = buildDefaultPipeline(builder, config, { logger: pino({ level: 'silent' }) });
    await ensurePipelineTopics(log, config, 2);
    const app = new StreamsApp(builder.build(), log, { applicationId: 'streamline', stateDir: path.join(dataDir, 'state'), dlqTopic: config.dlqTopic, commitIntervalMs: 20 });
    await app.start();
    await log.produce([
      ...Array.from({ length: 10 }, (_, i) => ({ topic: 'events.raw', key: Buffer.from(`u${i}`), value: Buffer.from(landing(i, `u${i}`)) })),
      { topic: 'events.raw', key: Buffer.from('u9'), value: Buffer.from('not json at all') },
    ]);
    await waitForCaughtUp(app, log, 'streamline', ['events.raw']);
    // An event the ingress refused (a collector batch's invalid event): its DLQ record has no original_offset.
    await log.produce([{ topic: DLQ, key: Buffer.from('learner_1'), value: Buffer.from('{"v":1,"payload":{}}'), headers: { dlq_reason: 'learner_id is required', dlq_timestamp: new Date().toISOString(), original_topic: 'events.raw', source: 'collector', retry_count: '0' } }]);
    await app.close();
    pipeline.close();
    await log.close();
  }, 120_000);

  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  test('--help lists the commands; an unknown command is a usage error', async () => {
    const help = await streamline(['--help']);
    expect(help.code).toBe(0);
    for (const name of ['start', 'describe', 'topics', 'dlq', 'ref', 'produce', 'reset', 'reprocess', 'backfill']) expect(help.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    const bad = await streamline(['frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual(['streamline: unknown command "frobnicate"; commands: start, describe, topics, dlq, ref, produce, reset, reprocess, backfill (streamline --help)']);
  });

  test('describe prints the default topology as text and as Mermaid', async () => {
    const text = await streamline(['describe'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('Sub-topology: 0');
    expect(text.stdout).toContain('Source: landing (topics: [events.raw])');
    expect(text.stdout).toContain('Processor: dedupe (stores: [dedupe-ids])');
    expect(text.stdout).toContain('Store: dedupe-ids (changelog: streamline-dedupe-ids-changelog)');
    expect(text.stdout).toMatch(/Source: .* \(topics: \[streamline-.*-repartition\]\)/);
    expect(text.stdout).toContain(`Sink: filter-dlq (topic: ${DLQ})`);
    const mermaid = await streamline(['describe', '--mermaid'], { ...env, APPLICATION_ID: 'myapp' });
    expect(mermaid.code).toBe(0);
    expect(mermaid.stdout.startsWith('graph TD\n')).toBe(true);
    expect(mermaid.stdout).toContain('t_events_raw[("events.raw")] --> landing');
    expect(mermaid.stdout).toContain('myapp-dedupe-ids-changelog');
  });

  test('topics lists partitions, end offsets, committed offsets and lag', async () => {
    const run = await streamline(['topics', '--group', 'nobody'], env);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TOPIC\s+PARTITION\s+START\s+END\s+streamline \(committed\/lag\)\s+clickhouse-sink \(committed\/lag\)\s+nobody \(committed\/lag\)$/);
    const raw = lines.filter((line) => line.startsWith('events.raw ')).map((line) => line.split(/\s+/));
    expect(raw).toHaveLength(2);
    // Everything the app read is committed: committed == end, lag 0; the sink never ran.
    expect(raw.reduce((sum, cells) => sum + Number(cells[3]), 0)).toBe(11);
    expect(raw.every((cells) => Number(cells[3]) > 0)).toBe(true);
    for (const cells of raw) expect(cells.slice(4)).toEqual([`${cells[3]}/0`, '-', '-']);
    expect(lines.some((line) => line.startsWith('streamline-dedupe-ids-changelog '))).toBe(true);
    expect(lines[lines.length - 1]).toMatch(/^\d+ topics, \d+ partitions, \d+ records \(embedded log\); lag: streamline 0, clickhouse-sink 0, nobody 0$/);
  });

  test('dlq list shows the poison record with its headers; --json is machine-readable', async () => {
    const run = await streamline(['dlq', 'list'], env);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${DLQ}/0@0  \\S+  from events\\.raw/\\d@\\d+  key=u9  landing record value is not JSON`));
    expect(lines[1]).toMatch(new RegExp(`^${DLQ}/0@1  \\S+  from events\\.raw  key=learner_1  learner_id is required$`));
    expect(lines[lines.length - 1]).toBe(`2 dead letters in ${DLQ}; showing 2`);
    const json = await streamline(['dlq', 'list', '--json', '--limit', '1'], env);
    const record = JSON.parse(json.stdout.trim()) as { value: string; headers: Record<string, string> };
    expect(record.value).toBe('not json at all');
    expect(record.headers.original_topic).toBe('events.raw');
  });

  test('dlq replay sends dead letters back to their original topic', async () => {
    const run = await streamline(['dlq', 'replay'], env);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout.trim()).toBe(`replayed 1 dead letters to their original topics from ${DLQ}; skipped 1 (1 refused by the ingress (--include-rejected to replay them))`);
    const replayed = await withLog(dataDir, async (log) => (await readAll(log, 'events.raw')).filter((r) => r.headers.retry_count === '1'));
    expect(replayed.map((r) => [r.key?.toString(), r.value?.toString()])).toEqual([['u9', 'not json at all']]);
    // The replay cursor (kept in the log) makes a second run find nothing new (issue 12).
    const again = await streamline(['dlq', 'replay'], env);
    expect(again.stdout.trim()).toBe(`replayed 0 dead letters to their original topics from ${DLQ}; skipped 0`);
    const bad = await streamline(['dlq', 'replay', '--reason', '(('], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--reason is not a pattern RE2 accepts: missing closing \)/);
  });

  test('ref load writes users and items from NDJSON; a bad file loads nothing and names the row', async () => {
    const users = path.join(dataDir, 'users.ndjson');
    fs.writeFileSync(users, ['{"user_id":"u1","type":"premium","jurisdiction":"DE"}', '', '{"user_id":"u2","type":"free"}', '{"user_id":"u3","deleted":true}'].join('\n'));
    const run = await streamline(['ref', 'load', 'users', users], env);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout.trim()).toBe(`loaded 3 users rows into ref.users (1 deletes) from ${users}`);
    const items = path.join(dataDir, 'items.ndjson');
    fs.writeFileSync(items, '{"item_id":"i1","difficulty":0.4}\n{"difficulty":0.9}\n');
    const bad = await streamline(['ref', 'load', 'items', items], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toEqual([`streamline: ${items}: row 2 has no item_id (nothing was loaded)`]);
    await withLog(dataDir, async (log) => {
      const written = await readAll(log, 'ref.users');
      expect(written.map((r) => [r.key?.toString(), r.value === null ? null : JSON.parse(r.value.toString()).type])).toEqual(
        expect.arrayContaining([['u1', 'premium'], ['u2', 'free'], ['u3', null]]),
      );
      expect(await log.partitionCount('ref.users')).toBe(await log.partitionCount('events.raw'));
      expect(await readAll(log, 'ref.items')).toHaveLength(0);
    });
    const missing = await streamline(['ref', 'load', 'items', path.join(dataDir, 'nope.ndjson')], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no such file');
  });

  test('reset asks for --yes without a terminal, then deletes the local stores', async () => {
    const stateDir = path.join(dataDir, 'state', 'streamline');
    expect(fs.existsSync(stateDir)).toBe(true);
    const refused = await streamline(['reset'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^streamline: reset would delete \d+ stores, .* MiB under .*; confirm with --yes/);
    expect(fs.existsSync(stateDir)).toBe(true);
    const run = await streamline(['reset', '--yes'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^deleted \d+ stores/);
    expect(fs.existsSync(stateDir)).toBe(false);
    expect((await streamline(['reset', '--yes'], env)).stdout).toContain('nothing to reset');
  });

  test('start runs the service; while it runs, commands on its data dir say the log is locked', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'start'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ADMIN_TOKEN: ADMIN_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const [address, adminAddress] = await new Promise<[string, string]>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk) => {
          out += chunk;
          const match = /"address":"(http:\/\/[^"]+)","adminAddress":"(http:\/\/[^"]+)"[^\n]*streamline listening/.exec(out);
          if (match) resolve([match[1]!, match[2]!]);
        });
        child.on('close', (code) => reject(new Error(`start exited with ${code}: ${out}`)));
      });
      expect((await fetch(`${address}/health`)).status).toBe(200);
      const locked = await streamline(['topics'], env);
      expect(locked.code).toBe(1);
      expect(locked.stderr.trim().split('\n')).toHaveLength(1);
      expect(locked.stderr).toContain('is locked: a running streamline service holds it');
      // GET /topology is on the admin listener, behind the token the CLI takes from ADMIN_TOKEN.
      const topology = await streamline(['describe', '--url', adminAddress], { ...env, ADMIN_TOKEN });
      expect(topology.code).toBe(0);
      expect(topology.stdout).toContain('Sub-topology: 0');
      expect((await streamline(['describe', '--url', adminAddress], env)).stderr).toContain('answered 401: set ADMIN_TOKEN');
      expect((await streamline(['describe', '--url', address], { ...env, ADMIN_TOKEN })).stderr).toContain('answered 404: --url takes the admin listener');
    } finally {
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }, 60_000);
});

// docs/TOPOLOGY.md's freshness is checked in process (topology-doc.test.ts); this checks that the
// installed command, run as a user runs it, prints that same graph.
test('`streamline describe --mermaid` prints the graph of docs/TOPOLOGY.md', async () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'TOPOLOGY.md'), 'utf8');
  const block = /```mermaid\n([\s\S]*?)\n```/.exec(doc)?.[1];
  const run = await streamline(['describe', '--mermaid']);
  expect(run.code).toBe(0);
  expect(run.stdout.trimEnd()).toBe(block);
});

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { openKafkaLog, type KafkaLog } from '../../log/kafka/KafkaLog.js';
import { LandingDecoder } from '../../processors/LandingContract.js';
import { testKafkaBrokers } from '../support/kafka-broker.js';
import { readAll } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * `streamline produce` with KAFKA_BROKERS: each line goes to the landing topic as it is, a bare
 * event keyed by its user id, for the topology to judge (docs/LANDING.md). Checked on the real
 * broker: what arrives is byte for byte the line, keyed and headed as the contract says, and the
 * landing decoder reads it to the event the line describes.
 */
const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

describe('streamline produce on Kafka', () => {
  let dir: string;
  let log: KafkaLog | undefined;

  beforeAll(() => {
    dir = tempDir('landing-produce-kafka');
  });

  afterAll(async () => {
    await log?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('lines land as bare events keyed by user id, from a file and from stdin; a progress bar on a terminal', async () => {
    const brokers = testKafkaBrokers();
    const topic = `produce-${process.pid}-${Date.now()}.raw`;
    const now = Date.now();
    const lines = [
      ...Array.from({ length: 25 }, (_, i) => JSON.stringify({ event_name: 'cli_view', user_id: `u${i % 4}`, timestamp: now - i })),
      JSON.stringify({ learner_id: 'l1', tenant_id: 't', event_type: 'interaction', timestamp: new Date(now).toISOString(), source_service: 'web' }),
      'not json',
    ];
    const file = path.join(dir, 'events.ndjson');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const env = { ...process.env, KAFKA_BROKERS: brokers, KAFKA_TOPIC: topic, DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'warn' };
    const cli = (args: string[], input?: string) => {
      const child = run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bin/streamline.ts'), 'produce', ...args], { env, cwd: ROOT });
      if (input !== undefined) {
        child.child.stdin!.end(input);
      }
      return child;
    };
    const fromFile = await cli([file, '--batch', '10']);
    expect(fromFile.stdout).toContain('27 of 27 events written to the landing topic; 0 refused');
    // Not on a terminal: no progress bar, only the summary.
    expect(fromFile.stderr).not.toContain('produce [');
    const fromStdin = await cli(['-'], lines.slice(0, 2).join('\n') + '\n');
    expect(fromStdin.stdout).toContain('2 of 2 events written to the landing topic; 0 refused');

    // On a terminal (script(1) gives the command a pseudo-terminal), the progress bar shows on it.
    const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;
    const command = [process.execPath, '--import', 'tsx', path.join(ROOT, 'bin/streamline.ts'), 'produce', file, '--batch', '5'].map(quote).join(' ');
    const onTerminal = await run('script', ['-q', '-e', '-c', command, '/dev/null'], { env, cwd: ROOT });
    expect(onTerminal.stdout).toMatch(/produce \[[░█ ]+\] \d+% \| \d+\/27/);
    expect(onTerminal.stdout).toContain('27 of 27 events written to the landing topic; 0 refused');

    log = await openKafkaLog({ brokers: [brokers], clientId: 'produce-kafka-reader' });
    const records = (await readAll(log, topic)).sort((a, b) => a.timestamp - b.timestamp || a.partition - b.partition || a.offset - b.offset);
    expect(records).toHaveLength(56);
    const values = records.map((record) => record.value!.toString('utf8')).sort();
    expect(values).toEqual([...lines, ...lines.slice(0, 2), ...lines].sort());
    const decoder = new LandingDecoder({ validateEnvelopes: false });
    for (const record of records) {
      expect(record.headers['content-type']).toBe('application/json');
      const text = record.value!.toString('utf8');
      if (text === 'not json') {
        expect(record.key).toBeNull();
        expect(() => decoder.decode({ key: null, value: record.value, timestamp: record.timestamp, headers: record.headers }, record)).toThrow(/not JSON/);
        continue;
      }
      const event = JSON.parse(text) as { user_id?: string; learner_id?: string };
      expect(record.key?.toString('utf8')).toBe(event.user_id ?? event.learner_id);
      const decoded = decoder.decode({ key: record.key!.toString('utf8'), value: record.value, timestamp: record.timestamp, headers: record.headers }, record);
      expect(decoded.payload).toEqual(event);
    }
  }, 120_000);
});

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { KafkaLog } from '../../log/kafka/KafkaLog.js';
import { testKafkaBrokers } from '../support/kafka-broker.js';

/**
 * KAFKA_COMPRESSION_TYPE=zstd (issue 14 part 5). @platformatic/kafka compresses zstd with
 * node:zlib's zstdCompressSync, which Node has from 22.15 (and 24): there, records go to the real
 * broker as zstd batches (attributes & 7 = 4 in the segment file) and read back the same. On an
 * older Node the log refuses to start, naming the version needed.
 *
 * CI runs the suite on Node 20 and again on Node 24. On Node 24 the round trip runs in this process;
 * on Node 20 it runs fixtures/zstd-roundtrip.ts under the binary in NODE24_BIN (.ci/run sets it), or
 * without it under the Node 24 scripts/node24.sh unpacks from the npm registry.
 */
const ROUNDTRIP = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'zstd-roundtrip.ts');
const NODE24_SCRIPT = path.resolve(path.dirname(ROUNDTRIP), '../../../scripts/node24.sh');
const hasZstd = (version: string) => {
  const [major, minor] = version.split('.').map(Number) as [number, number];
  return major >= 23 || (major === 22 && minor >= 15);
};

/** Compression codec of every record batch in a partition's first segment (Kafka's on-disk batch header). */
function segmentCodecs(stateDir: string, topic: string): number[] {
  const file = path.join(stateDir, 'data', `${topic}-0`, '00000000000000000000.log');
  const bytes = fs.readFileSync(file);
  const codecs: number[] = [];
  // baseOffset 8, batchLength 4 | partitionLeaderEpoch 4, magic 1, crc 4, attributes 2
  for (let at = 0; at + 23 <= bytes.length; at += 12 + bytes.readInt32BE(at + 8)) codecs.push(bytes.readInt16BE(at + 21) & 0x7);
  return codecs;
}

describe('zstd on the Kafka log', () => {
  const node24 = process.env.NODE24_BIN;

  // CI runs the suite on Node 20 and on Node 24: each asserts its own half.
  test('zstd at start: refused naming the version needed on a Node without zlib zstd, accepted on one with it', () => {
    const open = () => new KafkaLog({ brokers: ['127.0.0.1:1'], clientId: 'zstd-refusal', compression: 'zstd' });
    if (!hasZstd(process.versions.node)) {
      expect(open).toThrow(/KAFKA_COMPRESSION_TYPE=zstd is not supported .*Node ≥ 22\.15/);
      return;
    }
    const log = open();
    expect(log.kind).toBe('kafka');
    void log.close();
  });

  test(`on Node ≥ 22.15 (${hasZstd(process.versions.node) ? 'this process' : (node24 ?? 'Node 24 from scripts/node24.sh')}) records go to the broker as zstd batches and read back the same`, () => {
    // Not skipped on an older Node: the round trip is the proof zstd works. Without NODE24_BIN the
    // test fetches a Node 24 as it starts a broker (scripts/node24.sh: the npm registry's package, once).
    const binary = hasZstd(process.versions.node) ? process.execPath : execFileSync('bash', [NODE24_SCRIPT], { encoding: 'utf8', timeout: 300_000 }).trim();
    const brokers = testKafkaBrokers();
    const topic = `zstd-check-${process.pid}-${Date.now()}`;
    const out = execFileSync(binary, ['--import', 'tsx', ROUNDTRIP, brokers, topic], { cwd: path.resolve(path.dirname(ROUNDTRIP), '../../..'), timeout: 90_000 }).toString('utf8');
    const result = JSON.parse(out.trim().split('\n').pop()!) as { node: string; produced: number; read: number; same: boolean };
    expect(hasZstd(result.node)).toBe(true);
    expect(result).toMatchObject({ produced: 200, read: 200, same: true });
    // The broker global setup started keeps its segments here (an external KAFKA_BROKERS one does not say).
    const stateDir = process.env.TEST_KAFKA_STATE_DIR;
    if (!process.env.KAFKA_BROKERS) expect(stateDir).toBeDefined();
    if (stateDir) {
      const codecs = segmentCodecs(stateDir, topic);
      expect(codecs.length).toBeGreaterThan(0);
      expect(new Set(codecs)).toEqual(new Set([4]));
    }
  }, 400_000);
});

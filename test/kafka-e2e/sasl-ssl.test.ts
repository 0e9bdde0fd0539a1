import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../config/index.js';
import { readKafkaConfig } from '../../log/kafka/KafkaConfig.js';
import { openKafkaLog, type KafkaLog } from '../../log/kafka/KafkaLog.js';
import type { LogRecord, TopicPartition } from '../../log/Log.js';
import { startSaslSslKafkaBroker, type SaslSslKafkaBroker } from '../support/kafka-broker.js';
import { runStreamline } from '../support/cli-runner.js';
import { readAll } from '../support/streams.js';
import { tempDir } from '../support/temp-dir.js';
import { PipelineChild, pipelineEnv } from './support/pipeline-child.js';
import { ProductTraffic } from './support/product-traffic.js';

/**
 * Issue 12 part 9: the pipeline's Kafka clients over TLS + SASL, against the project's own broker
 * started here with a SASL_SSL listener (certificates made by keytool, SCRAM users written at
 * format). Everything goes through readKafkaConfig(env), as the service and the CLI do.
 */
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const USER = 'streamline';
const PASSWORD = 'sasl-test-Pw.1';

let broker: SaslSslKafkaBroker;
let dir: string;
const opened: KafkaLog[] = [];

function saslEnv(mechanism: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: broker.saslSslBrokers,
    KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    KAFKA_SSL_CA_FILE: broker.caFile,
    KAFKA_SASL_MECHANISM: mechanism,
    KAFKA_SASL_USERNAME: USER,
    KAFKA_SASL_PASSWORD: PASSWORD,
    // Short timeouts: a refusal must show in seconds, never as a hang.
    KAFKA_CONNECT_TIMEOUT: '2s',
    KAFKA_REQUEST_TIMEOUT: '5s',
    KAFKA_SESSION_TIMEOUT: '3s',
    KAFKA_TRANSACTION_TIMEOUT: '10s',
    ...overrides,
  };
}

async function open(env: Record<string, string>, clientId: string): Promise<KafkaLog> {
  const log = await openKafkaLog({ ...readKafkaConfig(env)!, clientId });
  opened.push(log);
  return log;
}

function values(records: LogRecord[]): string[] {
  return records.map((record) => record.value!.toString()).sort();
}

const run = runStreamline;

beforeAll(async () => {
  dir = tempDir('kafka-sasl-ssl');
  broker = await startSaslSslKafkaBroker({ users: { [USER]: PASSWORD }, mutualTls: true });
}, 240_000);

afterAll(async () => {
  for (const log of opened) await log.close().catch(() => undefined);
  await broker?.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe.each(['PLAIN', 'SCRAM-SHA-512'])('KafkaLog over SASL_SSL with %s', (mechanism) => {
  test('produces, reads, consumes in a group and commits / aborts transactions', async () => {
    const suffix = `${mechanism.toLowerCase()}-${randomUUID().slice(0, 8)}`;
    const log = await open(saslEnv(mechanism), `sasl-${suffix}`);
    const input = `in-${suffix}`;
    const output = `out-${suffix}`;
    await log.ensureTopic(input, { partitions: 2 });
    await log.ensureTopic(output, { partitions: 1 });

    // Plain idempotent produce, then read back.
    const sent = Array.from({ length: 20 }, (_, i) => `v${i}`);
    await log.produce(sent.map((value, i) => ({ topic: input, key: Buffer.from(`k${i % 5}`), value: Buffer.from(value) })));
    expect(values(await readAll(log, input))).toEqual([...sent].sort());

    // A consumer group (its own fetcher and group-coordinator connection) reads them all.
    const groupId = `group-${suffix}`;
    const consumer = await log.createConsumer({ groupId });
    const assigned: TopicPartition[] = [];
    await consumer.subscribe([input], {
      onAssigned: async (partitions) => void assigned.push(...partitions),
      onRevoked: async () => undefined,
    });
    const consumed: LogRecord[] = [];
    const deadline = Date.now() + 60_000;
    while (consumed.length < sent.length && Date.now() < deadline) consumed.push(...(await consumer.poll(100, 1_000)));
    expect(assigned.map((tp) => tp.partition).sort()).toEqual([0, 1]);
    expect(values(consumed)).toEqual([...sent].sort());

    // Exactly-once: a committed transaction's records and offsets become visible; an aborted one's do not.
    const producer = await log.createTransactionalProducer(`txn-${suffix}`);
    const committed = await producer.begin();
    committed.produce([{ topic: output, key: Buffer.from('a'), value: Buffer.from('committed') }]);
    const offsets = [0, 1].map((partition) => ({ topic: input, partition, offset: consumer.position({ topic: input, partition })! }));
    committed.sendOffsets(consumer, offsets);
    await committed.commit();
    const aborted = await producer.begin();
    aborted.produce([{ topic: output, key: Buffer.from('a'), value: Buffer.from('aborted') }]);
    await aborted.abort();
    await producer.close();

    const visible = Date.now() + 10_000;
    let out = await readAll(log, output);
    // Commit markers are written just after commit() resolves (README: visibility).
    while (out.length === 0 && Date.now() < visible) out = await readAll(log, output);
    expect(values(out)).toEqual(['committed']);
    const groupOffsets = await log.committedOffsets(groupId, [0, 1].map((partition) => ({ topic: input, partition })));
    expect([...groupOffsets.values()].reduce((a, b) => a + b, 0)).toBe(sent.length);
    await consumer.close();
  }, 180_000);
});

describe('SASL_SSL refusals', () => {
  test('SCRAM-SHA-256 works too', async () => {
    const log = await open(saslEnv('SCRAM-SHA-256'), 'sasl-sha256');
    const topic = `sha256-${randomUUID().slice(0, 8)}`;
    await log.ensureTopic(topic, { partitions: 1 });
    const [metadata] = await log.produce([{ topic, key: null, value: Buffer.from('x') }]);
    expect(metadata).toMatchObject({ topic, partition: 0, offset: 0 });
  }, 60_000);

  test.each(['PLAIN', 'SCRAM-SHA-512'])('a wrong %s password fails the open at once with a ConfigError naming the user, not the password', async (mechanism) => {
    const started = Date.now();
    const error = await open(saslEnv(mechanism, { KAFKA_SASL_PASSWORD: 'not-the-password' }), 'sasl-wrong').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(new RegExp(`SASL authentication failed at ${broker.saslSslBrokers} for user "${USER}" \\(${mechanism}\\)`));
    expect((error as Error).message).not.toContain('not-the-password');
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 60_000);

  test('a CA that did not sign the broker certificate fails the open with a ConfigError naming KAFKA_SSL_CA_FILE', async () => {
    const otherCa = path.join(dir, 'other-ca.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=another CA', '-days', '1', '-keyout', path.join(dir, 'other-ca.key'), '-out', otherCa], { stdio: 'ignore' });
    const error = await open(saslEnv('SCRAM-SHA-512', { KAFKA_SSL_CA_FILE: otherCa }), 'sasl-wrong-ca').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/presented a TLS certificate this process does not trust \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)/);
    expect((error as Error).message).toContain(`KAFKA_SSL_CA_FILE (${otherCa})`);
  }, 60_000);

  test('SASL_SSL pointed at the PLAINTEXT listener says it is not a TLS listener', async () => {
    const error = await open(saslEnv('PLAIN', { KAFKA_BROKERS: broker.brokers }), 'sasl-plaintext-port').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/TLS handshake with Kafka at .* failed: is that a TLS listener\?/);
  }, 60_000);
});

describe('SSL with a client certificate (mutual TLS, no SASL)', () => {
  const sslEnv = (overrides: Record<string, string> = {}) => ({
    KAFKA_BROKERS: broker.sslBrokers!,
    KAFKA_SECURITY_PROTOCOL: 'SSL',
    KAFKA_SSL_CA_FILE: broker.caFile,
    KAFKA_SSL_CERT_FILE: broker.clientCertFile!,
    KAFKA_SSL_KEY_FILE: broker.clientKeyFile!,
    KAFKA_CONNECT_TIMEOUT: '2s',
    KAFKA_REQUEST_TIMEOUT: '5s',
    ...overrides,
  });

  test('the client certificate gets in: produce and read back', async () => {
    const log = await open(sslEnv(), 'mtls');
    const topic = `mtls-${randomUUID().slice(0, 8)}`;
    await log.ensureTopic(topic, { partitions: 1 });
    await log.produce([{ topic, key: Buffer.from('k'), value: Buffer.from('over mutual TLS') }]);
    expect(values(await readAll(log, topic))).toEqual(['over mutual TLS']);
  }, 60_000);

  test('without a client certificate the broker refuses it: a clear start error, not a hang', async () => {
    const started = Date.now();
    const env = sslEnv();
    delete (env as Record<string, string | undefined>).KAFKA_SSL_CERT_FILE;
    delete (env as Record<string, string | undefined>).KAFKA_SSL_KEY_FILE;
    const error = await open(env, 'mtls-no-cert').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    // The alert's code is built from OpenSSL's reason text, which OpenSSL 3.2 renamed ("sslv3 alert ..."
    // -> "ssl/tls alert ..."): Node 24 (OpenSSL 3.5) says ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE, hence the slash.
    expect((error as Error).message).toMatch(/^Kafka at .* refused this process's TLS client certificate \(ERR_SSL_[\w/]+_ALERT_\w+\): set KAFKA_SSL_CERT_FILE \/ KAFKA_SSL_KEY_FILE .* \(none is set\)$/);
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 60_000);
});

describe('the CLI and the service over SASL_SSL', () => {
  test('streamline topics lists the topics; a wrong password exits 1 with one clear line', async () => {
    const suffix = randomUUID().slice(0, 8);
    const log = await open(saslEnv('SCRAM-SHA-512'), `cli-${suffix}`);
    await log.ensureTopic(`cli-${suffix}`, { partitions: 1 });
    const env = { ...saslEnv('SCRAM-SHA-512'), DATA_DIR: dir, APPLICATION_ID: `cli-${suffix}` };
    const ok = await run(['topics'], env);
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' });
    expect(ok.stdout).toContain(`cli-${suffix}`);

    const refused = await run(['topics'], { ...env, KAFKA_SASL_PASSWORD: 'wrong-password' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`SASL authentication failed at ${broker.saslSslBrokers} for user "${USER}" (SCRAM-SHA-512)`);
    expect(refused.stderr + refused.stdout).not.toContain('wrong-password');
    expect(refused.ms).toBeLessThan(30_000);
  }, 120_000);

  test('the service takes events onto the landing topic over SASL_SSL; with a wrong password it exits with a configuration error', async () => {
    const suffix = randomUUID().slice(0, 8);
    const landing = `landing-${suffix}`;
    const env = pipelineEnv(broker.saslSslBrokers, path.join(dir, `svc-${suffix}`), {
      ...saslEnv('SCRAM-SHA-512'),
      APPLICATION_ID: `svc-${suffix}`,
      KAFKA_TOPIC: landing,
    });
    const child = await PipelineChild.start(env);
    try {
      await child.started();
      const traffic = new ProductTraffic(child.address, `sasl-${suffix}`, 5, 0);
      expect(await traffic.send()).toBe(202);
      expect(traffic.accepted.size).toBe(5);
      const log = await open(saslEnv('SCRAM-SHA-512'), `svc-reader-${suffix}`);
      let ids = new Set<string>();
      const deadline = Date.now() + 30_000;
      while (ids.size < traffic.accepted.size && Date.now() < deadline) {
        ids = new Set((await readAll(log, landing)).map((record) => (JSON.parse(record.value!.toString()) as { event_id?: string }).event_id ?? ''));
      }
      expect(ids).toEqual(traffic.accepted);
    } finally {
      await child.stop();
    }

    // The real entry point (npm start), so the line an operator sees is what is checked.
    const started = Date.now();
    const refused = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const service = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'app', 'main.ts')], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, DATA_DIR: path.join(dir, `svc-wrong-${suffix}`), KAFKA_SASL_PASSWORD: 'wrong-password' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      service.stdout.on('data', (chunk) => (output += chunk));
      service.stderr.on('data', (chunk) => (output += chunk));
      service.on('error', reject);
      service.on('close', (code) => resolve({ code, output }));
    });
    expect(refused.code).toBe(1);
    const fatal = refused.output
      .split('\n')
      .map((line) => {
        try {
          return JSON.parse(line) as { level?: number; msg?: string };
        } catch {
          return undefined;
        }
      })
      .find((line) => line?.level === 60);
    expect(fatal?.msg).toContain(`configuration error: Kafka SASL authentication failed at ${broker.saslSslBrokers} for user "${USER}" (SCRAM-SHA-512)`);
    expect(refused.output).not.toContain('wrong-password');
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 240_000);
});

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../config/index.js';
import { readKafkaConfig } from '../../log/kafka/KafkaConfig.js';
import { explainSecurityFailure, readKafkaSecurity } from '../../log/kafka/KafkaSecurity.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * Issue 12 part 9: the broker-side settings are read and checked at start (no broker needed here;
 * test/kafka-e2e/sasl-ssl.test.ts runs them against a real SASL_SSL listener).
 */
describe('Kafka TLS / SASL settings', () => {
  let dir: string;
  let ca: string;
  let key: string;

  beforeAll(() => {
    dir = tempDir('sasl-tls-config');
    ca = path.join(dir, 'ca.pem');
    key = path.join(dir, 'ca.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=config test', '-days', '1', '-keyout', key, '-out', ca], { stdio: 'ignore' });
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const base = { KAFKA_BROKERS: 'broker.example:9093' };
  const error = (env: Record<string, string>): string => {
    try {
      readKafkaConfig({ ...base, ...env });
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
    throw new Error('no ConfigError');
  };

  test('nothing set: PLAINTEXT, no security options', () => {
    expect(readKafkaConfig(base)!.security).toBeUndefined();
    expect(readKafkaConfig({ ...base, KAFKA_SECURITY_PROTOCOL: 'plaintext' })!.security).toBeUndefined();
  });

  test('SASL_SSL with SCRAM-SHA-512: TLS verifying with the CA file, SASL with the password behind a function', () => {
    const security = readKafkaConfig({
      ...base,
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SSL_CA_FILE: ca,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'svc',
      KAFKA_SASL_PASSWORD: 's3cret',
    })!.security!;
    expect(security.protocol).toBe('SASL_SSL');
    expect(security.client.tls).toEqual({ rejectUnauthorized: true, ca: fs.readFileSync(ca) });
    expect(security.client.sasl).toMatchObject({ mechanism: 'SCRAM-SHA-512', username: 'svc' });
    expect(security.client.sasl!.password()).toBe('s3cret');
    // What a log line or a config dump shows.
    const shown = JSON.stringify({ kafka: security });
    expect(shown).not.toContain('s3cret');
    expect(JSON.parse(shown)).toEqual({ kafka: { protocol: 'SASL_SSL', saslMechanism: 'SCRAM-SHA-512', saslUsername: 'svc', ca, clientCertificate: false } });
  });

  test('the protocol follows from KAFKA_SSL and KAFKA_SASL_MECHANISM when not given', () => {
    expect(readKafkaSecurity({ KAFKA_SSL: 'true' })!.protocol).toBe('SSL');
    expect(readKafkaSecurity({ KAFKA_SSL_CA_FILE: ca })!.protocol).toBe('SSL');
    expect(readKafkaSecurity({ KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' })!.protocol).toBe('SASL_PLAINTEXT');
    expect(readKafkaSecurity({ KAFKA_SSL: '1', KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' })!.protocol).toBe('SASL_SSL');
    // SSL without a CA file: Node's bundled public CAs, still verifying.
    expect(readKafkaSecurity({ KAFKA_SSL: 'true' })!.client.tls).toEqual({ rejectUnauthorized: true });
  });

  test('the password can come from a file (one trailing newline dropped)', () => {
    const file = path.join(dir, 'password');
    fs.writeFileSync(file, 'from-file\n');
    const security = readKafkaSecurity({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: file })!;
    expect(security.client.sasl!.password()).toBe('from-file');
  });

  test('a client certificate and key for mutual TLS are read and checked', () => {
    const security = readKafkaSecurity({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: ca, KAFKA_SSL_CERT_FILE: ca, KAFKA_SSL_KEY_FILE: key })!;
    expect(security.client.tls!.cert).toEqual(fs.readFileSync(ca));
    expect(security.client.tls!.key).toEqual(fs.readFileSync(key));
    expect(security.toJSON()).toMatchObject({ clientCertificate: true });
  });

  test.each([
    [{ KAFKA_SECURITY_PROTOCOL: 'TLS' }, /KAFKA_SECURITY_PROTOCOL/],
    [{ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' }, /KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_MECHANISM/],
    [{ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'GSSAPI' }, /KAFKA_SASL_MECHANISM/],
    [{ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'PLAIN' }, /needs KAFKA_SASL_USERNAME/],
    [{ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u' }, /needs KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE/],
    [{ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KAFKA_SASL_PASSWORD_FILE: '/etc/hostname' }, /not both/],
    [{ KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: '/nonexistent/pw' }, /KAFKA_SASL_PASSWORD_FILE=\/nonexistent\/pw cannot be read: ENOENT/],
    [{ KAFKA_SECURITY_PROTOCOL: 'PLAINTEXT', KAFKA_SASL_MECHANISM: 'PLAIN' }, /KAFKA_SASL_MECHANISM is set but KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use SASL/],
    [{ KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SSL_CA_FILE: '/tmp/x.pem' }, /KAFKA_SSL_CA_FILE is set but KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT does not use TLS/],
    [{ KAFKA_SECURITY_PROTOCOL: 'PLAINTEXT', KAFKA_SSL: 'true' }, /KAFKA_SSL=true contradicts KAFKA_SECURITY_PROTOCOL=PLAINTEXT/],
    [{ KAFKA_SSL: 'maybe' }, /KAFKA_SSL/],
    [{ KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem' }, /KAFKA_SSL_CA_FILE=\/nonexistent\/ca.pem cannot be read: ENOENT/],
    [{ KAFKA_SSL_CA_FILE: '/etc/hostname' }, /KAFKA_SSL_CA_FILE holds no PEM certificate/],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: '/etc/hostname' }, /go together/],
  ])('refused at start: %j', (env, message) => {
    expect(error(env as Record<string, string>)).toMatch(message);
  });

  test('a key file that is not a key is refused, naming KAFKA_SSL_KEY_PASSWORD when none is set', () => {
    expect(error({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: ca, KAFKA_SSL_KEY_FILE: ca })).toMatch(/KAFKA_SSL_KEY_FILE is not a usable PEM private key \(encrypted\? set KAFKA_SSL_KEY_PASSWORD\)/);
  });

  test('failures that no retry fixes are told apart from a broker that is down', () => {
    const security = readKafkaSecurity({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'pw' });
    const brokers = ['b1:9093'];
    const auth = Object.assign(new Error('SASL authentication failed.'), { code: 'PLT_KFK_AUTHENTICATION' });
    const wrapped = Object.assign(new Error('Cannot connect to any broker.'), { errors: [Object.assign(new Error('Connection to b1:9093 failed.'), { cause: auth })] });
    expect(explainSecurityFailure(wrapped, security, brokers)?.message).toBe(
      'Kafka SASL authentication failed at b1:9093 for user "svc" (SCRAM-SHA-256): check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD(_FILE) and KAFKA_SASL_MECHANISM',
    );
    const certificate = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(explainSecurityFailure({ cause: certificate }, security, brokers)?.message).toMatch(/^Kafka broker at b1:9093 presented a TLS certificate this process does not trust \(UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9093'), { code: 'ECONNREFUSED' });
    expect(explainSecurityFailure(new Error('Cannot connect to any broker.', { cause: refused }), security, brokers)).toBeUndefined();
  });
});

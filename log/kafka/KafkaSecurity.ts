import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { ConfigError, readBoolean, readEnum, readFileSetting, readOptionalString, type Env } from '../../config/index.js';

/**
 * How the process talks to Kafka: TLS and SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), read once
 * at start and handed to every client the process opens (admin, reader, producers, transactional
 * producers, consumers' fetchers and group-coordinator connections), so no client can connect
 * another way. Under the conventional names (no seed names them):
 *
 *   KAFKA_SECURITY_PROTOCOL    PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL. Default: SSL when
 *                              KAFKA_SSL=true (or a KAFKA_SSL_* file is set), SASL_* when
 *                              KAFKA_SASL_MECHANISM is set, PLAINTEXT otherwise.
 *   KAFKA_SSL                  true = TLS (the short form of SSL / SASL_SSL)
 *   KAFKA_SSL_CA_FILE          PEM file of the CA(s) that signed the brokers' certificates
 *                              (default: Node's bundled public CAs)
 *   KAFKA_SSL_CERT_FILE / KAFKA_SSL_KEY_FILE   client certificate and key (PEM) for mutual TLS; both or neither
 *   KAFKA_SSL_KEY_PASSWORD     passphrase of an encrypted KAFKA_SSL_KEY_FILE
 *   KAFKA_SASL_MECHANISM       PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
 *   KAFKA_SASL_USERNAME        SASL user
 *   KAFKA_SASL_PASSWORD / KAFKA_SASL_PASSWORD_FILE   its password, or a file holding it (one trailing newline dropped)
 *
 * The broker's certificate is always verified, host name included (Node's checkServerIdentity
 * against the host in KAFKA_BROKERS): there is deliberately no switch to turn that off.
 * The password is never in a log line: the client gets it through a function, and toJSON()
 * of these settings names the user and mechanism only.
 */
export type KafkaSecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
export type KafkaSaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export const KAFKA_SECURITY_PROTOCOLS: readonly KafkaSecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];
export const KAFKA_SASL_MECHANISMS: readonly KafkaSaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

/** The options every @platformatic/kafka client (and raw Connection) of the process is given. */
export interface KafkaClientSecurity {
  tls?: TlsConnectionOptions;
  sasl?: { mechanism: KafkaSaslMechanism; username: string; password: () => string };
}

export class KafkaSecurity {
  constructor(
    readonly protocol: KafkaSecurityProtocol,
    /** Spread into every client's options. */
    readonly client: KafkaClientSecurity,
    /** Where the CA came from, for error messages ("Node's bundled CAs" when no file). */
    readonly caSource: string | undefined,
  ) {}

  get tls(): boolean {
    return this.client.tls !== undefined;
  }

  get sasl(): KafkaClientSecurity['sasl'] {
    return this.client.sasl;
  }

  /** What a log line or a config dump may show: never the password or the key. */
  toJSON(): Record<string, unknown> {
    return {
      protocol: this.protocol,
      ...(this.client.sasl ? { saslMechanism: this.client.sasl.mechanism, saslUsername: this.client.sasl.username } : {}),
      ...(this.client.tls ? { ca: this.caSource ?? 'bundled', clientCertificate: this.client.tls.cert !== undefined } : {}),
    };
  }
}

function checkCertificates(name: string, pem: Buffer): void {
  const text = pem.toString('utf8');
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`${name} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  try {
    new X509Certificate(pem);
  } catch (error) {
    throw new ConfigError(`${name} is not a readable PEM certificate: ${(error as Error).message}`);
  }
}

function readPassword(env: Env): string | undefined {
  const inline = readOptionalString(env, 'KAFKA_SASL_PASSWORD');
  const fromFile = readFileSetting(env, 'KAFKA_SASL_PASSWORD_FILE');
  if (inline !== undefined && fromFile !== undefined) throw new ConfigError('set KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both');
  if (fromFile !== undefined) {
    const password = fromFile.toString('utf8').replace(/\r?\n$/, '');
    if (password.length === 0) throw new ConfigError('KAFKA_SASL_PASSWORD_FILE is empty');
    return password;
  }
  return inline;
}

function defaultProtocol(env: Env): KafkaSecurityProtocol {
  const tlsFiles = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'].some((name) => readOptionalString(env, name) !== undefined);
  const tls = readBoolean(env, 'KAFKA_SSL', tlsFiles);
  const sasl = readOptionalString(env, 'KAFKA_SASL_MECHANISM') !== undefined;
  return sasl ? (tls ? 'SASL_SSL' : 'SASL_PLAINTEXT') : tls ? 'SSL' : 'PLAINTEXT';
}

/** Reads and checks the security settings; undefined for plain PLAINTEXT with nothing else set. */
export function readKafkaSecurity(env: Env): KafkaSecurity | undefined {
  const explicit = readOptionalString(env, 'KAFKA_SECURITY_PROTOCOL') !== undefined;
  const protocol = explicit ? readEnum(env, 'KAFKA_SECURITY_PROTOCOL', KAFKA_SECURITY_PROTOCOLS, 'PLAINTEXT') : defaultProtocol(env);
  const wantsTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const wantsSasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';

  // Settings that the chosen protocol would silently ignore are refused: a CA file next to
  // PLAINTEXT is almost always a forgotten KAFKA_SECURITY_PROTOCOL, and sending to the wrong
  // listener would otherwise only show as timeouts.
  if (explicit && readOptionalString(env, 'KAFKA_SSL') !== undefined && readBoolean(env, 'KAFKA_SSL', false) !== wantsTls) {
    throw new ConfigError(`KAFKA_SSL=${readOptionalString(env, 'KAFKA_SSL')} contradicts KAFKA_SECURITY_PROTOCOL=${protocol}`);
  }
  if (!wantsTls) {
    for (const name of ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE', 'KAFKA_SSL_KEY_PASSWORD']) {
      if (readOptionalString(env, name) !== undefined) throw new ConfigError(`${name} is set but KAFKA_SECURITY_PROTOCOL=${protocol} does not use TLS (use SSL or SASL_SSL)`);
    }
  }
  if (!wantsSasl) {
    for (const name of ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE']) {
      if (readOptionalString(env, name) !== undefined) throw new ConfigError(`${name} is set but KAFKA_SECURITY_PROTOCOL=${protocol} does not use SASL (use SASL_PLAINTEXT or SASL_SSL)`);
    }
  }
  if (protocol === 'PLAINTEXT') return undefined;

  const client: KafkaClientSecurity = {};
  let caSource: string | undefined;
  if (wantsTls) {
    const ca = readFileSetting(env, 'KAFKA_SSL_CA_FILE');
    if (ca) {
      checkCertificates('KAFKA_SSL_CA_FILE', ca);
      caSource = readOptionalString(env, 'KAFKA_SSL_CA_FILE');
    }
    const cert = readFileSetting(env, 'KAFKA_SSL_CERT_FILE');
    const key = readFileSetting(env, 'KAFKA_SSL_KEY_FILE');
    if ((cert === undefined) !== (key === undefined)) throw new ConfigError('KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together (a client certificate needs its key)');
    const passphrase = readOptionalString(env, 'KAFKA_SSL_KEY_PASSWORD');
    if (cert && key) {
      checkCertificates('KAFKA_SSL_CERT_FILE', cert);
      try {
        createPrivateKey({ key, passphrase });
      } catch (error) {
        throw new ConfigError(`KAFKA_SSL_KEY_FILE is not a usable PEM private key${passphrase === undefined ? ' (encrypted? set KAFKA_SSL_KEY_PASSWORD)' : ''}: ${(error as Error).message}`);
      }
    }
    client.tls = {
      rejectUnauthorized: true,
      ...(ca ? { ca } : {}),
      ...(cert && key ? { cert, key, ...(passphrase !== undefined ? { passphrase } : {}) } : {}),
    };
  }
  if (wantsSasl) {
    const mechanismRaw = readOptionalString(env, 'KAFKA_SASL_MECHANISM');
    if (mechanismRaw === undefined) throw new ConfigError(`KAFKA_SECURITY_PROTOCOL=${protocol} needs KAFKA_SASL_MECHANISM (${KAFKA_SASL_MECHANISMS.join(', ')})`);
    const mechanism = readEnum(env, 'KAFKA_SASL_MECHANISM', KAFKA_SASL_MECHANISMS, 'PLAIN');
    const username = readOptionalString(env, 'KAFKA_SASL_USERNAME');
    if (username === undefined) throw new ConfigError(`KAFKA_SASL_MECHANISM=${mechanism} needs KAFKA_SASL_USERNAME`);
    const password = readPassword(env);
    if (password === undefined) throw new ConfigError(`KAFKA_SASL_MECHANISM=${mechanism} needs KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE`);
    client.sasl = { mechanism, username, password: () => password };
  }
  return new KafkaSecurity(protocol, client, caSource);
}

/** Error codes Node's TLS layer gives a certificate it does not trust or that names another host. */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function causes(error: unknown): { name?: string; code?: string; message?: string }[] {
  const out: { name?: string; code?: string; message?: string }[] = [];
  const seen = new Set<unknown>();
  const walk = (value: unknown, depth: number) => {
    if (!value || typeof value !== 'object' || seen.has(value) || depth > 8) return;
    seen.add(value);
    const item = value as { name?: string; code?: string; message?: string; cause?: unknown; errors?: unknown[] };
    out.push(item);
    walk(item.cause, depth + 1);
    if (Array.isArray(item.errors)) for (const inner of item.errors) walk(inner, depth + 1);
  };
  walk(error, 0);
  return out;
}

/**
 * A clear ConfigError when a failure to reach Kafka is a security misconfiguration (wrong
 * password or mechanism, a broker certificate the CA does not vouch for, TLS against a plain
 * listener), which no retry will fix; undefined for anything else (broker down, timeouts).
 */
export function explainSecurityFailure(error: unknown, security: KafkaSecurity | undefined, brokers: string[]): ConfigError | undefined {
  const chain = causes(error);
  const where = brokers.join(',');
  const sasl = security?.sasl;
  if (chain.some((item) => item.code === 'PLT_KFK_AUTHENTICATION' || item.name === 'AuthenticationError')) {
    const mechanismRefused = chain.some((item) => /suitable SASL mechanism|mechanism .* not supported|UNSUPPORTED_SASL_MECHANISM/i.test(item.message ?? ''));
    if (sasl && mechanismRefused) {
      return new ConfigError(`Kafka at ${where} does not accept SASL mechanism ${sasl.mechanism} on this listener: check KAFKA_SASL_MECHANISM and KAFKA_SECURITY_PROTOCOL (is it a SASL listener?)`);
    }
    return new ConfigError(
      `Kafka SASL authentication failed at ${where}${sasl ? ` for user "${sasl.username}" (${sasl.mechanism})` : ''}: check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD(_FILE) and KAFKA_SASL_MECHANISM`,
    );
  }
  const certificate = chain.find((item) => item.code !== undefined && CERTIFICATE_CODES.has(item.code));
  if (certificate) {
    return new ConfigError(
      `Kafka broker at ${where} presented a TLS certificate this process does not trust (${certificate.code}: ${certificate.message}): ` +
        `check KAFKA_SSL_CA_FILE (${security?.caSource ?? "unset: Node's bundled CAs"}) and that the certificate names the host in KAFKA_BROKERS`,
    );
  }
  // TLS 1.3: the broker judges the client certificate after the client saw the handshake done,
  // and says so with an alert on the socket (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED, ...).
  const alert = chain.find((item) => /^ERR_SSL_.*ALERT/.test(item.code ?? '') || /alert (certificate required|bad certificate|unknown ca|certificate unknown|certificate expired)/i.test(item.message ?? ''));
  if (security?.tls && alert) {
    return new ConfigError(
      `Kafka at ${where} refused this process's TLS client certificate (${alert.code ?? alert.message}): ` +
        `set KAFKA_SSL_CERT_FILE / KAFKA_SSL_KEY_FILE to a certificate signed by a CA the listener trusts${security.client.tls?.cert ? '' : ' (none is set)'}`,
    );
  }
  if (security?.tls && chain.some((item) => /TLS handshake failed|wrong version number|EPROTO/i.test(`${item.code ?? ''} ${item.message ?? ''}`))) {
    return new ConfigError(`TLS handshake with Kafka at ${where} failed: is that a TLS listener? (KAFKA_SECURITY_PROTOCOL=${security.protocol})`);
  }
  return undefined;
}

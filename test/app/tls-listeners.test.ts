import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startService, type RunningService } from '../../app/Service.js';
import { call } from './support/http-client.js';

/**
 * TLS on both listeners with a self-signed certificate made here by openssl (node's crypto
 * cannot issue X.509): the handshake verifies against that certificate, and plain HTTP to a TLS
 * port gets no answer. Also PROMETHEUS_PUBLIC=false: Prometheus text only on the admin listener.
 */
const TOKEN = 'tls-admin-token-0123456789';

function selfSignedCertificate(dir: string, name: string): { certFile: string; keyFile: string; cert: Buffer } {
  const certFile = path.join(dir, `${name}-cert.pem`);
  const keyFile = path.join(dir, `${name}-key.pem`);
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${name}`,
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? 'openssl is not on PATH: this test makes its self-signed certificate with `openssl req -x509` (apt-get install -y openssl)' : `openssl req -x509 failed: ${(error as Error).message}`);
  }
  return { certFile, keyFile, cert: fs.readFileSync(certFile) };
}

describe('TLS on the public and the admin listener', () => {
  let dataDir: string;
  let pipeline: RunningService;
  let publicCert: Buffer;
  let adminCert: Buffer;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-tls-'));
    const publicFiles = selfSignedCertificate(dataDir, 'public');
    const adminFiles = selfSignedCertificate(dataDir, 'admin');
    publicCert = publicFiles.cert;
    adminCert = adminFiles.cert;
    pipeline = await startService(
      {
        DATA_DIR: path.join(dataDir, 'data'),
        PORT: '0',
        HOST: '127.0.0.1',
        ROLES: 'ingress,topology',
        LOG_LEVEL: 'warn',
        ADMIN_TOKEN: TOKEN,
        TLS_CERT_FILE: publicFiles.certFile,
        TLS_KEY_FILE: publicFiles.keyFile,
        ADMIN_TLS_CERT_FILE: adminFiles.certFile,
        ADMIN_TLS_KEY_FILE: adminFiles.keyFile,
        PROMETHEUS_PUBLIC: 'false',
      },
      pino({ level: 'warn' }),
    );
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('both addresses are https and each presents its own certificate, verified against it', async () => {
    expect(pipeline.address).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(pipeline.adminAddress).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await call(pipeline.address, '/health', { ca: publicCert });
    expect(health.status).toBe(200);
    expect(health.peerFingerprint).toBe(new X509Certificate(publicCert).fingerprint256);
    const event = { event_id: 'tls-1', event_name: 'product_view', channel: 'web', user_id: 'u1', timestamp: 1708732800000 };
    expect((await call(pipeline.address, '/events', { body: event, ca: publicCert })).status).toBe(202);
    const topology = await call(pipeline.adminAddress!, '/topology', { ca: adminCert, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(topology.status).toBe(200);
    expect(topology.peerFingerprint).toBe(new X509Certificate(adminCert).fingerprint256);
  });

  test('a client that does not trust the certificate, or speaks plain HTTP, gets nothing', async () => {
    await expect(call(pipeline.address, '/health', { ca: adminCert })).rejects.toThrow(/self-signed|unable to verify|certificate/i);
    await expect(call(pipeline.address.replace('https:', 'http:'), '/health')).rejects.toThrow();
    await expect(call(pipeline.adminAddress!.replace('https:', 'http:'), '/topology', { headers: { authorization: `Bearer ${TOKEN}` } })).rejects.toThrow();
  });

  test('PROMETHEUS_PUBLIC=false: Prometheus text only on the admin listener; the seeds\' JSON reads stay public', async () => {
    const ca = publicCert;
    expect((await call(pipeline.address, '/metrics', { ca })).status).toBe(404);
    expect((await call(pipeline.address, '/metrics/prometheus', { ca })).status).toBe(404);
    expect((await call(pipeline.address, '/metrics?format=json', { ca })).status).toBe(200);
    expect((await call(pipeline.address, '/api/v1/metrics', { ca })).status).toBe(200);
    const adminMetrics = await call(pipeline.adminAddress!, '/metrics', { ca: adminCert, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(adminMetrics.status).toBe(200);
    expect(adminMetrics.text).toMatch(/^streamline_ingress_events_accepted_total\{route="product",path="(log|spool)"\} 1$/m);
  });
});

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import os from 'node:os';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ConfigError } from '../../config/index.js';
import { openIngressRedis, readRedisTls } from '../../ingress/IngressRedis.js';
import { registerIngress } from '../../ingress/BuildIngress.js';
import { ingressConfig } from '../../ingress/IngressConfig.js';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import { call } from '../app/support/http-client.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * Issue 12 part 9, Redis: AUTH (requirepass and an ACL user, credentials in REDIS_URL) and TLS
 * (rediss:// with REDIS_TLS_CA_FILE, and a client certificate for Redis's default
 * tls-auth-clients yes), against real redis-server processes started here (this machine's
 * redis-server is built with TLS). Certificates are made with openssl in a temp dir.
 */
const PASSWORD = 'redis-Pw.7';
const ACL_USER = 'ingress';
const ACL_PASSWORD = 'ingress-Pw.9';

let dir: string;
const servers: ChildProcess[] = [];
const clients: Redis[] = [];
let plainPort: number;
let tlsPort: number;
let mtlsPort: number;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts redis-server and resolves when it logs that it accepts connections (its own words, no polling). */
function startRedis(args: string[]): Promise<void> {
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (/Ready to accept connections/.test(output)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`)));
  });
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A CA, a server certificate for 127.0.0.1 / localhost and a client certificate, all signed by it. */
function makeCertificates(prefix: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-subj', `/CN=${prefix} test CA`, '-days', '1', '-keyout', `${prefix}-ca.key`, '-out', `${prefix}-ca.pem`]);
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, ext] of [
    ['server', 'server.ext'],
    ['client', 'client.ext'],
  ] as const) {
    openssl(['req', ...ec, '-subj', `/CN=${prefix}-${name}`, '-keyout', `${prefix}-${name}.key`, '-out', `${prefix}-${name}.csr`]);
    openssl(['x509', '-req', '-in', `${prefix}-${name}.csr`, '-CA', `${prefix}-ca.pem`, '-CAkey', `${prefix}-ca.key`, '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', `${prefix}-${name}.pem`]);
  }
}

const file = (name: string) => path.join(dir, name);

/** openIngressRedis with a log that the test can wait on. */
function open(url: string, env: Record<string, string> = {}) {
  const lines: { level: number; msg: string; url?: string; err?: string }[] = [];
  const waiters: (() => void)[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
      for (const wake of waiters.splice(0)) wake();
      done();
    },
  });
  const redis = openIngressRedis(url, pino({ level: 'info' }, sink), new Registry(), env);
  clients.push(redis);
  const warning = async (): Promise<{ msg: string; url?: string; err?: string }> => {
    for (;;) {
      const found = lines.find((line) => line.level === 40);
      if (found) return found;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { redis, lines, warning };
}

beforeAll(async () => {
  dir = tempDir('redis-auth-tls');
  makeCertificates('good');
  makeCertificates('other');
  [plainPort, tlsPort, mtlsPort] = [await freePort(), await freePort(), await freePort()];
  const tlsFiles = ['--tls-cert-file', file('good-server.pem'), '--tls-key-file', file('good-server.key'), '--tls-ca-cert-file', file('good-ca.pem')];
  await Promise.all([
    // requirepass for the default user, and an ACL user of its own.
    startRedis(['--port', String(plainPort), '--requirepass', PASSWORD, '--user', ACL_USER, 'on', `>${ACL_PASSWORD}`, '~*', '&*', '+@all']),
    // TLS only, server certificate only (clients need no certificate).
    // Also on 127.0.0.2 (loopback, not in the certificate) for the host-name check.
    startRedis(['--port', '0', '--tls-port', String(tlsPort), ...tlsFiles, '--tls-auth-clients', 'no', '--requirepass', PASSWORD, '--bind', '127.0.0.1', '127.0.0.2']),
    // TLS only with Redis's default tls-auth-clients yes: clients must present a certificate.
    startRedis(['--port', '0', '--tls-port', String(mtlsPort), ...tlsFiles]),
  ]);
}, 60_000);

afterAll(async () => {
  // QUIT where connected (disconnect() alone leaves a 2 s timer until the socket closes).
  await Promise.all(clients.map((client) => (client.status === 'ready' ? client.quit().catch(() => client.disconnect()) : client.status === 'end' ? undefined : client.disconnect())));
  for (const server of servers) {
    if (server.exitCode !== null) continue;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the ingress Redis with AUTH', () => {
  test('the password in REDIS_URL authenticates the default user', async () => {
    const { redis } = open(`redis://:${PASSWORD}@127.0.0.1:${plainPort}/3`);
    expect(await redis.set('auth:default', 'ok')).toBe('OK');
    expect(await redis.get('auth:default')).toBe('ok');
  });

  test('an ACL user and password in REDIS_URL authenticate as that user', async () => {
    const { redis } = open(`redis://${ACL_USER}:${ACL_PASSWORD}@127.0.0.1:${plainPort}`);
    expect(await redis.call('ACL', 'WHOAMI')).toBe(ACL_USER);
  });

  test('a wrong password is logged as refused credentials, without the password', async () => {
    const { redis, warning } = open(`redis://:not-the-password@127.0.0.1:${plainPort}`);
    const line = await warning();
    expect(line.msg).toMatch(/^Redis refused the credentials of REDIS_URL/);
    expect(JSON.stringify(line)).not.toContain('not-the-password');
    expect(line.url).toBe(`redis://:***@127.0.0.1:${plainPort}`);
    await expect(redis.get('auth:default')).rejects.toThrow(/NOAUTH|WRONGPASS/);
  });

  test('no password at all against requirepass: refused credentials too', async () => {
    const { redis } = open(`redis://127.0.0.1:${plainPort}`);
    await expect(redis.get('x')).rejects.toThrow(/NOAUTH/);
  });
});

describe('the ingress Redis over TLS (rediss://)', () => {
  test('REDIS_TLS_CA_FILE trusts the server; password in the URL', async () => {
    const { redis } = open(`rediss://:${PASSWORD}@127.0.0.1:${tlsPort}`, { REDIS_TLS_CA_FILE: file('good-ca.pem') });
    expect(await redis.set('tls:key', 'over-tls')).toBe('OK');
    expect(await redis.get('tls:key')).toBe('over-tls');
    const info = (await redis.info('server')) as string;
    expect(info).toMatch(new RegExp(`tcp_port:${tlsPort}`));
  });

  test('the host name is checked: localhost (in the certificate) is accepted, 127.0.0.2 (not in it) is refused', async () => {
    const { redis } = open(`rediss://:${PASSWORD}@localhost:${tlsPort}`, { REDIS_TLS_CA_FILE: file('good-ca.pem') });
    expect(await redis.ping()).toBe('PONG');
    const other = open(`rediss://:${PASSWORD}@127.0.0.2:${tlsPort}`, { REDIS_TLS_CA_FILE: file('good-ca.pem') });
    const line = await other.warning();
    expect(line.msg).toMatch(/^Redis presented a TLS certificate this process does not trust \(ERR_TLS_CERT_ALTNAME_INVALID\)/);
    // Now, not in afterAll: ioredis keeps a 2 s timer after disconnecting a socket that failed.
    other.redis.disconnect();
  });

  test('a client certificate for a server that requires one (tls-auth-clients yes)', async () => {
    const { redis } = open(`rediss://127.0.0.1:${mtlsPort}`, {
      REDIS_TLS_CA_FILE: file('good-ca.pem'),
      REDIS_TLS_CERT_FILE: file('good-client.pem'),
      REDIS_TLS_KEY_FILE: file('good-client.key'),
    });
    expect(await redis.ping()).toBe('PONG');
  });

  test('a CA that did not sign the server certificate: logged as an untrusted certificate naming REDIS_TLS_CA_FILE', async () => {
    const { redis, warning } = open(`rediss://:${PASSWORD}@127.0.0.1:${tlsPort}`, { REDIS_TLS_CA_FILE: file('other-ca.pem') });
    const line = await warning();
    expect(line.msg).toMatch(/^Redis presented a TLS certificate this process does not trust \(.+\): check REDIS_TLS_CA_FILE/);
    expect(redis.status).not.toBe('ready');
    redis.disconnect();
  });

  test('settings that would be ignored or are incomplete are refused at start', () => {
    expect(() => readRedisTls({ REDIS_TLS_CA_FILE: file('good-ca.pem') }, 'redis://127.0.0.1:6379')).toThrow(ConfigError);
    expect(() => readRedisTls({ REDIS_TLS_CA_FILE: file('good-ca.pem') }, 'redis://127.0.0.1:6379')).toThrow(/not a rediss:\/\/ URL/);
    expect(() => readRedisTls({ REDIS_TLS_CERT_FILE: file('good-client.pem') }, 'rediss://127.0.0.1:6379')).toThrow(/go together/);
    expect(() => readRedisTls({ REDIS_TLS_CA_FILE: file('missing.pem') }, 'rediss://127.0.0.1:6379')).toThrow(/cannot be read: ENOENT/);
    expect(() => readRedisTls({ REDIS_TLS_CA_FILE: file('good-ca.key') }, 'rediss://127.0.0.1:6379')).toThrow(/no PEM certificate/);
    expect(readRedisTls({}, 'redis://127.0.0.1:6379')).toBeUndefined();
    expect(readRedisTls({}, 'rediss://127.0.0.1:6379')).toEqual({ rejectUnauthorized: true });
  });
});

describe('the ingress on a rediss:// Redis with a password', () => {
  /** registerIngress as the app runs it (its Redis client passed in), or opening its own from the URL. */
  async function withIngress(redisUrl: string, own: boolean, body: (address: string) => Promise<void>): Promise<void> {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-redis-tls-ingress-'));
    const log = await openEmbeddedLog({ dir: path.join(work, 'log') });
    const app = Fastify() as unknown as FastifyInstance;
    const prefix = `test:tls:${process.pid}:${Date.now()}:`;
    const redis = own ? undefined : open(redisUrl, { REDIS_TLS_CA_FILE: file('good-ca.pem') }).redis;
    const config = ingressConfig({ spool: { dir: path.join(work, 'spool') } as never, redisUrl, redisKeyPrefix: prefix });
    const runtime = await registerIngress(app, { log, config, registry: new Registry(), logger: pino({ level: 'silent' }), redis });
    try {
      await body(await app.listen({ host: '127.0.0.1', port: 0 }));
      // The idempotency keys are in the TLS Redis, under the ingress's prefix.
      const check = open(`rediss://:${PASSWORD}@127.0.0.1:${tlsPort}`, { REDIS_TLS_CA_FILE: file('good-ca.pem') }).redis;
      expect((await check.keys(`${prefix}*`)).length).toBeGreaterThan(0);
    } finally {
      await app.close();
      await (runtime as { close?: () => Promise<void> }).close?.();
      await log.close();
      fs.rmSync(work, { recursive: true, force: true });
    }
  }

  const event = (id: string) => ({ event_id: id, event_name: 'product_view', channel: 'web', user_id: 'user-tls', timestamp: 1708732800000 });

  test.each([
    ['the app\'s client (openIngressRedis)', false],
    ['its own client (registerIngress without the app)', true],
  ])('%s: a repeated event id is answered as a duplicate through Redis', async (_name, own) => {
    const url = `rediss://:${PASSWORD}@127.0.0.1:${tlsPort}`;
    const saved = process.env.REDIS_TLS_CA_FILE;
    process.env.REDIS_TLS_CA_FILE = file('good-ca.pem');
    try {
      await withIngress(url, own, async (address) => {
        const id = `tls-${own ? 'own' : 'app'}-${Date.now()}`;
        const first = await call(address, '/events', { body: event(id) });
        expect(first.status).toBe(202);
        expect(first.headers['x-duplicate']).toBeUndefined();
        const second = await call(address, '/events', { body: event(id) });
        expect(second.status).toBe(202);
        expect(second.headers['x-duplicate']).toBe('true');
      });
    } finally {
      if (saved === undefined) delete process.env.REDIS_TLS_CA_FILE;
      else process.env.REDIS_TLS_CA_FILE = saved;
    }
  });
});

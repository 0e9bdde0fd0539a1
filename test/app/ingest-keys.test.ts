import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { registerIngress } from '../../ingress/BuildIngress.js';
import { readIngestKeys } from '../../ingress/IngestKeys.js';
import { ingressConfig } from '../../ingress/IngressConfig.js';
import { openEmbeddedLog } from '../../log/embedded/index.js';
import type { Log } from '../../log/Log.js';
import { call } from './support/http-client.js';

/**
 * Source write keys (INGEST_API_KEYS) on a real ingress: the key's name reaches what runs after
 * the check (request.ingestKeyName) and keys its own token bucket, in memory and in Redis.
 */
const WEB_KEY = 'web-key-0123456789abcdef';
const IOS_KEY = 'ios-key-fedcba9876543210';
const product = (i: number) => ({ event_id: `key-${i}`, event_name: 'product_view', channel: 'web', user_id: `user-${i}`, timestamp: 1708732800000 + i });

interface Ingress {
  address: string;
  /** request.ingestKeyName of each answered ingest request, in order. */
  seen: Array<string | null>;
  close(): Promise<void>;
}

async function startIngress(env: Record<string, string>, redisUrl?: string): Promise<Ingress> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-ingest-keys-'));
  const log: Log = await openEmbeddedLog({ dir: path.join(dir, 'log') });
  const app = Fastify() as unknown as FastifyInstance;
  const seen: Array<string | null> = [];
  app.addHook('onResponse', (request, _reply, done) => {
    if (request.url.startsWith('/events')) seen.push(request.ingestKeyName);
    done();
  });
  const config = ingressConfig({ spool: { dir: path.join(dir, 'spool') } as never, redisUrl, redisKeyPrefix: `test:keys:${process.pid}:${Date.now()}:` });
  await registerIngress(app, { log, config, registry: new Registry(), logger: pino({ level: 'silent' }), ingestKeys: readIngestKeys(env) });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    address,
    seen,
    async close() {
      await app.close();
      await log.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('ingest keys', () => {
  test('the key\'s name is on the request for what runs after the check; requests without a key never get there', async () => {
    const ingress = await startIngress({ INGEST_API_KEYS: `web:${WEB_KEY},ios:${IOS_KEY}` });
    try {
      expect((await call(ingress.address, '/events', { body: product(1), headers: { authorization: `Bearer ${WEB_KEY}` } })).status).toBe(202);
      expect((await call(ingress.address, '/events', { body: product(2), headers: { 'x-api-key': IOS_KEY } })).status).toBe(202);
      expect((await call(ingress.address, '/events', { body: product(3) })).status).toBe(401);
      expect(ingress.seen).toEqual(['web', 'ios', null]);
    } finally {
      await ingress.close();
    }
  });

  const perKeyLimit = async (redisUrl?: string) => {
    const ingress = await startIngress({ INGEST_API_KEYS: `web:${WEB_KEY},ios:${IOS_KEY}`, INGEST_KEY_RATE_LIMIT_PER_MINUTE: '1', INGEST_KEY_RATE_LIMIT_BURST: '2' }, redisUrl);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await call(ingress.address, '/events', { body: product(i), headers: { authorization: `Bearer ${WEB_KEY}` } })).status);
      const limited = await call(ingress.address, '/events', { body: product(9), headers: { authorization: `Bearer ${WEB_KEY}` } });
      // The other key has its own bucket.
      const other = await call(ingress.address, '/events', { body: product(10), headers: { 'x-api-key': IOS_KEY } });
      // One token a minute: no refill between these requests however slow the machine is.
      return { statuses, limited: { status: limited.status, retryAfterOverASecond: Number(limited.headers['retry-after']) > 1, body: limited.body }, other: other.status };
    } finally {
      await ingress.close();
    }
  };

  test('INGEST_KEY_RATE_LIMIT_PER_MINUTE: one token bucket per key name (memory)', async () => {
    expect(await perKeyLimit()).toEqual({
      statuses: [202, 202, 429],
      limited: { status: 429, retryAfterOverASecond: true, body: { error: expect.stringMatching(/^rate limit of this ingest key exceeded; retry after \d+ s$/) } },
      other: 202,
    });
  });

  test('INGEST_KEY_RATE_LIMIT_PER_MINUTE: one token bucket per key name (Redis, shared by replicas)', async () => {
    const redisUrl = process.env.TEST_REDIS_URL;
    if (!redisUrl) throw new Error('TEST_REDIS_URL is not set: test/support/global-setup.ts starts or finds Redis');
    expect(await perKeyLimit(redisUrl)).toEqual({
      statuses: [202, 202, 429],
      limited: { status: 429, retryAfterOverASecond: true, body: { error: expect.stringMatching(/^rate limit of this ingest key exceeded; retry after \d+ s$/) } },
      other: 202,
    });
  });

  test('INGEST_API_KEYS_FILE: one name:key a line, comments and blank lines ignored; errors name the file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-keys-file-'));
    try {
      const file = path.join(dir, 'keys');
      fs.writeFileSync(file, `# sources\nweb:${WEB_KEY}\n\n  ios : ${IOS_KEY}\r\n`);
      expect([...readIngestKeys({ INGEST_API_KEYS_FILE: file })!.keys]).toEqual([['web', WEB_KEY], ['ios', IOS_KEY]]);
      fs.writeFileSync(file, '# nothing yet\n');
      expect(() => readIngestKeys({ INGEST_API_KEYS_FILE: file })).toThrow(`INGEST_API_KEYS_FILE ${file} names no key`);
      expect(() => readIngestKeys({ INGEST_API_KEYS_FILE: path.join(dir, 'missing') })).toThrow(`INGEST_API_KEYS_FILE=${path.join(dir, 'missing')} cannot be read: ENOENT`);
      expect(() => readIngestKeys({ INGEST_API_KEYS_FILE: file, INGEST_API_KEYS: `web:${WEB_KEY}` })).toThrow('INGEST_API_KEYS and INGEST_API_KEYS_FILE are both set: use one');
      expect(() => readIngestKeys({ INGEST_API_KEYS: `web:${WEB_KEY},ios:${WEB_KEY}` })).toThrow('the key of "ios" is also another name\'s key');
      expect(readIngestKeys({})).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

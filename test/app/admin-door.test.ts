import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startService, type RunningService } from '../../app/Service.js';
import { exampleEvents, loadEventSchemas } from '../../console/index.js';
import { call, type Answer } from './support/http-client.js';

/**
 * Issue 12's two doors on the process `npm start` runs (startService, embedded defaults, a temp
 * DATA_DIR): the operators' routes are not on the public listener, answer 401 on the admin
 * listener without the token, and work with it; ingestion answers 401 without a source key once
 * INGEST_API_KEYS is set, and 2xx with each accepted form of a key.
 */
const TOKEN = 'admin-token-0123456789abcdef';
const WEB_KEY = 'web-key-0123456789abcdef';
const IOS_KEY = 'ios-key-fedcba9876543210';

/** Every route that changes or inspects the pipeline, with a body its handler accepts. */
const ADMIN_ROUTES: Array<{ method: string; path: string; body?: unknown; ok: number }> = [
  { method: 'GET', path: '/processor/filters', ok: 200 },
  { method: 'PUT', path: '/processor/filters', body: [], ok: 200 },
  { method: 'GET', path: '/processor/routes', ok: 200 },
  { method: 'POST', path: '/processor/routes', body: { id: 'door_test', priority: 0, enabled: true, topics: ['user.activities'] }, ok: 201 },
  { method: 'DELETE', path: '/processor/routes/door_test', ok: 200 },
  { method: 'POST', path: '/processor/reference/users', body: [{ user_id: 'u-door', name: 'Door' }], ok: 202 },
  { method: 'POST', path: '/processor/dlq/replay?limit=1', ok: 200 },
  // Authorised but no window holds that key yet: 404 (issue 20 part 4), not a refusal.
  { method: 'GET', path: '/processor/aggregation?aggregator=user_hourly_attempts&key=user:u1', ok: 404 },
  { method: 'GET', path: '/processor/status', ok: 200 },
  { method: 'GET', path: '/metrics/processor', ok: 200 },
  { method: 'GET', path: '/topology', ok: 200 },
  { method: 'GET', path: '/dashboard', ok: 200 },
  { method: 'GET', path: '/docs', ok: 200 },
  { method: 'GET', path: '/openapi.json', ok: 200 },
];

/** Resolves once check() holds, looking again every 20 ms. */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 20));
}

const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

function tempDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-admin-door-'));
}

async function start(env: Record<string, string>): Promise<{ pipeline: RunningService; dataDir: string }> {
  const dataDir = tempDataDir();
  // No sink: chDB allows one engine per process, and the doors do not need ClickHouse.
  const pipeline = await startService({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', ROLES: 'ingress,topology', LOG_LEVEL: 'warn', ...env }, pino({ level: 'warn' }));
  return { pipeline, dataDir };
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const summary = (answer: Answer) => ({ status: answer.status, body: answer.body });

describe('two doors: the public listener and the admin listener behind ADMIN_TOKEN', () => {
  let pipeline: RunningService;
  let dataDir: string;
  let admin: string;

  beforeAll(async () => {
    ({ pipeline, dataDir } = await start({ ADMIN_TOKEN: TOKEN, INGEST_API_KEYS: `web:${WEB_KEY}, ios:${IOS_KEY}` }));
    admin = pipeline.adminAddress!;
    // Stores are queryable once the first assignment is done (before it, 503 as during a rebalance).
    // Asked over HTTP: the stores live in a stream thread (app/threads/), the route forwards to it.
    await until(async () => (await fetch(`${admin}/processor/aggregation?aggregator=user_hourly_attempts&key=probe`, { headers: { authorization: `Bearer ${TOKEN}` } })).status !== 503);
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('the admin listener is its own loopback port', () => {
    expect(pipeline.admin).toBeDefined();
    expect(admin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(admin).not.toBe(pipeline.address);
  });

  test('no admin route is served on the public listener (404), whatever the credentials', async () => {
    for (const route of ADMIN_ROUTES) {
      const answer = await call(pipeline.address, route.path, { method: route.method, body: route.body, headers: { authorization: `Bearer ${TOKEN}` } });
      expect({ route: `${route.method} ${route.path}`, status: answer.status }).toEqual({ route: `${route.method} ${route.path}`, status: 404 });
    }
  });

  test('admin routes answer 401 without the token and with a wrong one, and nothing changes', async () => {
    for (const route of ADMIN_ROUTES) {
      const id = `${route.method} ${route.path}`;
      const missing = await call(admin, route.path, { method: route.method, body: route.body });
      expect({ id, status: missing.status }).toEqual({ id, status: 401 });
      // Bearer for tools, Basic so a browser opening /dashboard prompts for the token.
      expect(missing.headers['www-authenticate']).toBe('Bearer realm="streamline-admin", Basic realm="streamline-admin", charset="UTF-8"');
      const wrong = await call(admin, route.path, { method: route.method, body: route.body, headers: { authorization: `Bearer ${TOKEN}x` } });
      expect({ id, status: wrong.status }).toEqual({ id, status: 401 });
      const truncated = await call(admin, route.path, { method: route.method, body: route.body, headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}` } });
      expect({ id, status: truncated.status }).toEqual({ id, status: 401 });
    }
    // The probe of issue 12: a rule routing everything to a topic of the attacker's choosing.
    const probe = await call(admin, '/processor/routes', { body: { id: 'exfil', priority: 0, enabled: true, topics: ['attacker.exfil'] } });
    expect(probe.status).toBe(401);
    expect(await pipeline.log.listTopics()).not.toContain('attacker.exfil');
    // The operators' health and metrics reads on the admin listener are behind the token too.
    expect((await call(admin, '/metrics')).status).toBe(401);
    expect((await call(admin, '/health')).status).toBe(401);
  });

  test('with the token every admin route works (bearer, or basic auth with the token as password for browsers)', async () => {
    for (const route of ADMIN_ROUTES) {
      const answer = await call(admin, route.path, { method: route.method, body: route.body, headers: { authorization: `Bearer ${TOKEN}` } });
      expect({ route: `${route.method} ${route.path}`, status: answer.status }).toEqual({ route: `${route.method} ${route.path}`, status: route.ok });
    }
    const viaBasic = await call(admin, '/processor/filters', { headers: { authorization: basic('operator', TOKEN) } });
    expect(viaBasic.status).toBe(200);
    expect((await call(admin, '/processor/filters', { headers: { authorization: basic(TOKEN, 'nope') } })).status).toBe(401);
    const topology = await call(admin, '/topology', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(topology.text).toContain('Sub-topology: 0');
  });

  test('the admin listener serves health and metrics for the dashboard; refusals are counted', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect(summary(await call(admin, '/ready', { headers: auth }))).toMatchObject({ status: 200, body: { status: 'ready' } });
    const metrics = await call(admin, '/metrics', { headers: auth });
    expect(metrics.status).toBe(200);
    // Missing: each route, the probe, /metrics, /health; invalid: each route twice, one basic auth.
    expect(metricValue(metrics.text, 'streamline_admin_unauthorized_total{reason="missing"}')).toBe(ADMIN_ROUTES.length + 3);
    expect(metricValue(metrics.text, 'streamline_admin_unauthorized_total{reason="invalid"}')).toBe(2 * ADMIN_ROUTES.length + 1);
  });

  test('the document lists both listeners\' routes and says which serves each', async () => {
    const doc = (await call(admin, '/openapi.json', { headers: { authorization: `Bearer ${TOKEN}` } })).body as {
      paths: Record<string, Record<string, { 'x-listeners'?: string[]; 'x-undocumented'?: boolean; security?: unknown }>>;
    };
    expect(doc.paths['/events']!.post!['x-listeners']).toEqual(['public']);
    expect(doc.paths['/processor/filters']!.put!['x-listeners']).toEqual(['admin']);
    expect(doc.paths['/processor/filters']!.put!.security).toEqual([{ adminToken: [] }]);
    expect(doc.paths['/health']!.get!['x-listeners']).toEqual(['public', 'admin']);
    const undocumented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops).filter(([, op]) => op['x-undocumented']).map(([m]) => `${m} ${p}`));
    expect(undocumented).toEqual([]);
  });

  test('public reads of the seeds stay open on the public listener', async () => {
    for (const route of ['/health', '/ready', '/api/v1/health', '/metrics', '/metrics?format=json', '/metrics/prometheus', '/api/v1/metrics', '/metrics/publisher', '/metrics/publisher/health']) {
      const answer = await call(pipeline.address, route);
      expect({ route, status: answer.status }).toEqual({ route, status: 200 });
    }
  });

  test('ingestion answers 401 without a valid key, in each seed\'s body shape', async () => {
    const schemas = loadEventSchemas();
    const attempt = exampleEvents(schemas.find((s) => s.source === 'seed000' && s.eventType === 'attempt')!, schemas).valid;
    const product = exampleEvents(schemas.find((s) => s.source === 'product')!, schemas).valid;
    const collector = exampleEvents(schemas.find((s) => s.source === 'collector' && s.eventType === 'interaction')!, schemas).valid;
    const routes: Array<[string, unknown]> = [
      ['/events', product],
      ['/events/bulk', [product]],
      ['/api/v1/collect', [collector]],
      ['/api/v1/events/attempt', attempt],
      ['/api/v1/events/batch', [attempt]],
    ];
    for (const [route, body] of routes) {
      const refusedForms: Array<Record<string, string>> = [{}, { authorization: 'Bearer not-a-key-0123456789' }, { 'x-api-key': `${WEB_KEY}x` }, { authorization: basic('', '') }, { authorization: `Bearer ${TOKEN}` }];
      for (const headers of refusedForms) {
        const answer = await call(pipeline.address, route, { body, headers });
        expect({ route, headers, status: answer.status }).toEqual({ route, headers, status: 401 });
        expect(answer.headers['www-authenticate']).toContain('Bearer realm="streamline-ingest"');
      }
    }
    expect((await call(pipeline.address, '/api/v1/collect', { body: [collector] })).body).toMatchObject({ error: 'unauthorized' });
    expect((await call(pipeline.address, '/events', { body: product })).body).toEqual({ error: expect.stringContaining('an ingest key is required') });
    const prometheus = (await call(pipeline.address, '/metrics')).text;
    expect(metricValue(prometheus, 'streamline_ingress_events_rejected_total{route="product",reason="unauthorized"}')).toBeGreaterThanOrEqual(10);
  });

  test('ingestion accepts a key as Bearer, X-API-Key, or basic auth with the key as user; the events land', async () => {
    const landed = async () => {
      let total = 0;
      for (let partition = 0; partition < 4; partition++) total += await pipeline.log.endOffset({ topic: 'events.raw', partition });
      return total;
    };
    const before = await landed();
    const event = (i: number) => ({ event_id: `door-${i}`, event_name: 'product_view', channel: 'web', user_id: `user-${i}`, timestamp: 1708732800000 + i });
    const forms: Array<Record<string, string>> = [
      { authorization: `Bearer ${WEB_KEY}` },
      { 'x-api-key': IOS_KEY },
      { authorization: basic(WEB_KEY, '') },
      { authorization: `bearer ${IOS_KEY}` },
    ];
    for (const [i, headers] of forms.entries()) {
      const answer = await call(pipeline.address, '/events', { body: event(i), headers });
      expect({ headers, status: answer.status, body: answer.body }).toEqual({ headers, status: 202, body: { status: 'accepted' } });
    }
    expect(await landed()).toBe(before + forms.length);
  });
});

describe('ADMIN_PORT=public: admin routes share the public listener behind the token', () => {
  let pipeline: RunningService;
  let dataDir: string;

  beforeAll(async () => {
    ({ pipeline, dataDir } = await start({ ADMIN_PORT: 'public', ADMIN_TOKEN: TOKEN }));
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('admin routes need the token; ingestion and health stay open', async () => {
    expect(pipeline.admin).toBeUndefined();
    expect(pipeline.adminAddress).toBe(pipeline.address);
    expect((await call(pipeline.address, '/processor/filters', { method: 'PUT', body: [] })).status).toBe(401);
    expect((await call(pipeline.address, '/topology')).status).toBe(401);
    expect((await call(pipeline.address, '/processor/filters', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await call(pipeline.address, '/dashboard', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    const event = { event_id: 'shared-1', event_name: 'product_view', channel: 'web', user_id: 'u1', timestamp: 1708732800000 };
    expect((await call(pipeline.address, '/events', { body: event })).status).toBe(202);
    expect((await call(pipeline.address, '/health')).status).toBe(200);
  });
});

describe('refusing to start with the admin door open to the network', () => {
  const refused = async (env: Record<string, string>) => {
    const dataDir = tempDataDir();
    try {
      const error = await startService({ DATA_DIR: dataDir, PORT: '0', ROLES: 'ingress', LOG_LEVEL: 'silent', ...env }, pino({ level: 'silent' })).then(
        async (pipeline) => {
          await pipeline.stop();
          return undefined;
        },
        (e: unknown) => e as Error,
      );
      // Refused before anything was opened: no log, no state under DATA_DIR.
      return { name: error?.name, message: error?.message, dataDir: fs.readdirSync(dataDir) };
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  };

  test('ADMIN_HOST off loopback without ADMIN_TOKEN', async () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'admin.example.com']) {
      expect(await refused({ ADMIN_HOST: host })).toEqual({
        name: 'ConfigError',
        message: `admin routes would be reachable on ADMIN_HOST=${host} without a token: set ADMIN_TOKEN, or bind them to loopback (ADMIN_HOST=127.0.0.1), or ADMIN_PORT=off`,
        dataDir: [],
      });
    }
  });

  test('admin routes on the public listener (ADMIN_PORT=public or = PORT) with HOST off loopback and no token', async () => {
    expect(await refused({ ADMIN_PORT: 'public' })).toMatchObject({ name: 'ConfigError', message: expect.stringContaining('the public listener (HOST=0.0.0.0, ADMIN_PORT=public) without a token'), dataDir: [] });
    expect(await refused({ PORT: '18080', ADMIN_PORT: '18080', HOST: '0.0.0.0' })).toMatchObject({ name: 'ConfigError', message: expect.stringContaining('set ADMIN_TOKEN') });
  });

  test('weak or malformed secrets', async () => {
    expect(await refused({ ADMIN_TOKEN: 'short' })).toMatchObject({ name: 'ConfigError', message: 'ADMIN_TOKEN is 5 characters; use at least 16 (e.g. openssl rand -hex 24)' });
    expect(await refused({ INGEST_API_KEYS: 'web:short' })).toMatchObject({ name: 'ConfigError', message: expect.stringContaining('INGEST_API_KEYS key "web" is 5 characters') });
    expect(await refused({ INGEST_API_KEYS: `web:${WEB_KEY},web:${IOS_KEY}` })).toMatchObject({ message: 'INGEST_API_KEYS: the name "web" is given twice' });
    expect(await refused({ INGEST_API_KEYS: WEB_KEY })).toMatchObject({ message: expect.stringContaining('is not name:key') });
    expect(await refused({ ADMIN_PORT: 'sometimes' })).toMatchObject({ message: expect.stringContaining('ADMIN_PORT="sometimes" is not a port') });
    expect(await refused({ TLS_CERT_FILE: '/nonexistent/cert.pem' })).toMatchObject({ message: 'TLS_KEY_FILE is missing: TLS needs both TLS_CERT_FILE and TLS_KEY_FILE' });
    expect(await refused({ TLS_CERT_FILE: '/nonexistent/cert.pem', TLS_KEY_FILE: '/nonexistent/key.pem' })).toMatchObject({ message: 'TLS_CERT_FILE=/nonexistent/cert.pem cannot be read: ENOENT' });
  });
});

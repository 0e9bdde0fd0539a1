import { Validator } from '@seriousme/openapi-schema-validator';
import { defaultSchemaDir, SchemaCatalog } from '../../ingress/index.js';
import { listenerRoutes, loadEventSchemas, openApiPath, ROUTE_TABLE } from '../../console/index.js';
import { isDocumentedPath } from '../../console/RouteTable.js';
import { startConsoleApp, type ConsoleApp } from './support/console-app.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- walking an untyped JSON document
type Json = Record<string, any>;

describe('OpenAPI document (/openapi.json, /docs)', () => {
  let app: ConsoleApp;
  let doc: Json;

  beforeAll(async () => {
    app = await startConsoleApp();
    // The console is on the admin listener; it documents both.
    expect((await fetch(`${app.address}/openapi.json`)).status).toBe(404);
    const response = await fetch(`${app.adminAddress}/openapi.json`);
    expect(response.status).toBe(200);
    doc = (await response.json()) as Json;
  });

  afterAll(async () => {
    await app?.stop();
  });

  test('validates as OpenAPI 3', async () => {
    const result = await new Validator().validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(doc.openapi).toMatch(/^3\./);
  });

  const served = () => listenerRoutes({ public: app.http, admin: app.admin });

  test('the route table describes exactly the routes the two listeners serve', () => {
    const live = served().filter((r) => isDocumentedPath(r.path)).map((r) => `${r.method} ${r.path}`).sort();
    const table = ROUTE_TABLE.map((r) => `${r.method} ${r.path}`).sort();
    expect(live).toEqual(table);
  });

  test('every route is in the document, described (none x-undocumented)', () => {
    const kinds = new SchemaCatalog([defaultSchemaDir()]).kinds.filter((k) => k.source === 'seed000');
    for (const route of served().filter((r) => isDocumentedPath(r.path))) {
      // POST /api/v1/events/:type is one documented path per seed000 schema file.
      const paths = route.path === '/api/v1/events/:type' ? kinds.map((k) => `/api/v1/events/${k.eventType}`) : [openApiPath(route.path)];
      for (const path of paths) {
        const op = doc.paths[path]?.[route.method.toLowerCase()];
        expect({ route: `${route.method} ${path}`, described: Boolean(op && !op['x-undocumented'] && op.summary) }).toEqual({ route: `${route.method} ${path}`, described: true });
      }
    }
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/docs') || p.startsWith('/dashboard/'))).toBe(false);
  });

  test('components are the ingress schema files (same files, only $id/$ref rewritten)', () => {
    const files = loadEventSchemas();
    expect(Object.keys(doc.components.schemas).sort()).toEqual(files.map((f) => f.id).sort());
    const product = files.find((f) => f.id === 'product-event')!.raw;
    const { $id: _id, ...rest } = product;
    expect(doc.components.schemas['product-event']).toEqual(rest);
    expect(doc.components.schemas['collector-interaction'].allOf).toEqual([{ $ref: '#/components/schemas/collector-event' }]);
  });

  test('every example the document calls valid is accepted and every one it calls invalid is refused', async () => {
    const tried: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Json>)) {
      for (const [method, op] of Object.entries(ops)) {
        const examples = op.requestBody?.content?.['application/json']?.examples as Record<string, Json> | undefined;
        if (!examples) continue;
        // Examples are ingestion bodies: the public listener's.
        expect({ path, listeners: op['x-listeners'] }).toEqual({ path, listeners: ['public'] });
        for (const [name, example] of Object.entries(examples)) {
          const response = await fetch(`${app.address}${path}`, {
            method: method.toUpperCase(),
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(example.value),
          });
          const body = await response.text();
          expect({ path, name, status: response.status }).toEqual({ path, name, status: example['x-expected-status'] });
          if (name === 'invalid') expect(body).toMatch(new RegExp(example.summary.replace(/^Invalid: (\w+) missing.*$/, '$1')));
          tried.push(`${method} ${path} ${name}`);
        }
      }
    }
    // seed 000 (3 types + batch), collector, product single and bulk: valid and invalid each.
    expect(tried.length).toBe(2 * 7);
  });

  test('a valid example passes the ingress validator and the invalid one fails it', () => {
    const catalog = new SchemaCatalog([defaultSchemaDir()]);
    const attempt = doc.paths['/api/v1/events/attempt'].post.requestBody.content['application/json'].examples;
    const kind = catalog.kind('seed000', 'attempt')!;
    expect(kind.validate(attempt.valid.value)).toBe(true);
    expect(kind.validate(attempt.invalid.value)).toBe(false);
  });

  test('/docs serves Swagger UI on the same document; /redoc points at it', async () => {
    const ui = await fetch(`${app.adminAddress}/docs`);
    expect(ui.status).toBe(200);
    const html = await ui.text();
    expect(html).toContain("url: '/openapi.json'");
    for (const asset of html.matchAll(/(?:src|href)="(\/docs\/static\/[^"]+)"/g)) {
      expect({ asset: asset[1], status: (await fetch(`${app.adminAddress}${asset[1]}`)).status }).toEqual({ asset: asset[1], status: 200 });
    }
    expect(app.admin.swagger()).toEqual(doc);
    const redoc = await fetch(`${app.adminAddress}/redoc`);
    expect(redoc.headers.get('content-type')).toContain('text/html');
    expect(await redoc.text()).toContain('spec-url="/openapi.json"');
  });
});

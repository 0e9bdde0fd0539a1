import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { loadEventSchemas } from './EventSchemas.js';
import { type LiveRoute, liveRoutes } from './LiveRoutes.js';
import { buildOpenApiDocument } from './OpenApiDocument.js';

export interface ApiDocsOptions {
  /** Schema directories the ingress validates with (default: ingress/schemas, as the ingress). */
  schemaDirs?: string[];
  title?: string;
  version?: string;
  /** The routes to document (default: those of the app the docs are registered on), e.g. listenerRoutes({ public, admin }). */
  routes?: () => LiveRoute[];
}

const SWAGGER_UI_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Streamline API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"><link rel="stylesheet" href="/docs/static/index.css">
<link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png" sizes="32x32"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/static/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, docExpansion: 'list', validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], plugins: [SwaggerUIBundle.plugins.DownloadUrl], layout: 'StandaloneLayout',
});
</script></body></html>`;

const REDOC_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>Streamline API (ReDoc)</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="/openapi.json"></redoc>
<!-- ReDoc is not bundled with the service: this page needs access to its CDN. /docs works offline. -->
<script src="https://cdn.redoc.ly/redoc/latest/bundles/redoc.standalone.js"></script>
</body></html>`;

const SWAGGER_UI_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'index.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

/** Swagger UI's built files, as @fastify/swagger-ui ships them. */
function swaggerUiStaticDir(): string {
  return path.join(path.dirname(createRequire(import.meta.url).resolve('@fastify/swagger-ui')), 'static');
}

/**
 * GET /openapi.json, GET /docs (Swagger UI) and GET /redoc. The document is built on the first
 * request after the app is ready, from the schema files and the routes the app then serves, so
 * plugins registered after this one are listed too.
 *
 * Swagger UI's files are served from @fastify/swagger-ui's package by these few routes rather
 * than by registering that plugin: it pulls in @fastify/static, whose ESM-only dependency
 * (content-disposition 3) jest cannot require on Node 20 — every jest suite that starts the
 * app would fail to load.
 */
export async function registerApiDocs(app: FastifyInstance, options: ApiDocsOptions = {}): Promise<{ document(): Record<string, unknown> }> {
  const schemas = loadEventSchemas(options.schemaDirs);
  let cached: Record<string, unknown> | undefined;
  const document = () =>
    (cached ??= buildOpenApiDocument({ schemas, routes: options.routes ? options.routes() : liveRoutes(app), title: options.title, version: options.version }));

  // Static mode with a placeholder: app.swagger() is the standard way tools reach the document;
  // ours is built later, once every route exists, and swapped in on first use.
  await app.register(swagger, { mode: 'static', specification: { document: { openapi: '3.1.0', info: { title: 'Streamline', version: '0' }, paths: {} } } });
  const placeholder = app.swagger() as unknown as Record<string, unknown>;
  const documentOnce = () => {
    const built = document();
    if (placeholder.paths !== built.paths) Object.assign(placeholder, built);
    return built;
  };

  const staticDir = swaggerUiStaticDir();
  const files = new Map(Object.entries(SWAGGER_UI_FILES).map(([name, type]) => [name, { type, content: fs.readFileSync(path.join(staticDir, name)) }]));
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').send(SWAGGER_UI_HTML));
  app.get<{ Params: { file: string } }>('/docs/static/:file', async (request, reply) => {
    const file = files.get(request.params.file);
    if (!file) return reply.code(404).send({ error: `no such file: ${request.params.file}` });
    return reply.type(file.type).header('cache-control', 'public, max-age=3600').send(file.content);
  });
  app.get('/openapi.json', async () => documentOnce());
  app.get('/redoc', async (_request, reply) => reply.type('text/html; charset=utf-8').send(REDOC_HTML));
  return { document: documentOnce };
}

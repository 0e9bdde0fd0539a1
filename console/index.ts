/**
 * The operator and analyst console: GET /dashboard (live pipeline and analytics views),
 * GET /openapi.json, GET /docs (Swagger UI) and GET /redoc.
 *
 * @example
 *   const http = await buildIngress({ ... });
 *   await http.register(processorRoutes, { ... });   // routes registered before or after are all documented
 *   await registerConsole(http);
 *   await http.listen(...);
 */
import type { FastifyInstance } from 'fastify';
import { type ApiDocsOptions, registerApiDocs } from './ApiDocs.js';
import { registerDashboard } from './Dashboard.js';

export type ConsoleOptions = ApiDocsOptions;

export interface Console {
  /** The OpenAPI document (built on first use, after the app is ready). */
  document(): Record<string, unknown>;
}

export async function registerConsole(app: FastifyInstance, options: ConsoleOptions = {}): Promise<Console> {
  await registerDashboard(app);
  return registerApiDocs(app, options);
}

export { buildOpenApiDocument, openApiPath } from './OpenApiDocument.js';
export { loadEventSchemas, exampleEvents, type EventSchema } from './EventSchemas.js';
export { liveRoutes, listenerRoutes, type LiveRoute } from './LiveRoutes.js';
export { ROUTE_TABLE, type RouteDoc } from './RouteTable.js';

import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type LiveRoute, registerConsole } from '../console/index.js';
import type { Log } from '../log/Log.js';
import type { DefaultPipeline } from '../processors/index.js';
import type { StreamsApp } from '../topology/index.js';
import type { TlsFiles } from './AdminConfig.js';
import { adminTokenHook } from './AdminToken.js';

export interface AdminRoutesOptions {
  log: Log;
  registry: Registry;
  /** Absent when this process runs no topology (ROLES): the processor routes are left out. */
  streams?: StreamsApp;
  pipeline?: DefaultPipeline;
  /** GET /topology's text when the topology runs in other threads (app/threads/AdminForwarding.ts). */
  describeTopology?: () => Promise<string>;
  /** Required on every admin route when set. */
  token?: string;
  /** What /openapi.json documents (default: the routes of the app the console is on). */
  documentRoutes?: () => LiveRoute[];
}

/**
 * The operators' routes: seed 002's processor API (rules, routes, reference data, DLQ replay,
 * interactive queries), GET /topology, the dashboard and the API docs, behind the token when one
 * is set. `scope` is the admin listener itself, or an encapsulated scope of the public listener
 * (ADMIN_PORT=public) so the token guards only these routes.
 */
export async function registerAdminRoutes(scope: FastifyInstance, options: AdminRoutesOptions): Promise<void> {
  const { streams, pipeline, log } = options;
  if (options.token) scope.addHook('onRequest', adminTokenHook(options.token, options.registry));
  // Imported only where the topology runs on this thread: threaded, the HTTP thread forwards these routes and loads no processors/.
  if (streams && pipeline) {
    const { processorRoutes } = await import('../processors/http/ProcessorRoutes.js');
    await scope.register(processorRoutes, { app: streams, pipeline, log, registry: options.registry });
  }
  scope.get('/topology', async (_request, reply) => {
    reply.type('text/plain');
    if (options.describeTopology) return options.describeTopology();
    return streams ? streams.describe() : 'this instance runs no topology (ROLES)';
  });
  await registerConsole(scope, { routes: options.documentRoutes });
}

/** A fastify instance for the admin listener (its routes are added by the caller). */
export function buildAdminServer(options: { logger: Logger; tls?: TlsFiles; bodyLimit: number }): FastifyInstance {
  return Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimit,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    ...(options.tls ? { https: options.tls } : {}),
  }) as unknown as FastifyInstance;
}

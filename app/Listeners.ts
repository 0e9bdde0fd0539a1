import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { listenerRoutes } from '../console/index.js';
import { buildIngress, type AnalyticsQuery, type IngressConfig, type ReadinessCheck } from '../ingress/index.js';
import { registerOperatorReads } from '../ingress/BuildIngress.js';
import type { IngestKeysConfig } from '../ingress/IngestKeys.js';
import type { Log } from '../log/Log.js';
import type { DefaultPipeline } from '../processors/index.js';
import type { StreamsApp } from '../topology/index.js';
import type { AdminConfig } from './AdminConfig.js';
import { buildAdminServer, registerAdminRoutes } from './AdminServer.js';

export interface ListenersOptions {
  ingressConfig: IngressConfig;
  adminConfig: AdminConfig;
  ingestKeys?: IngestKeysConfig;
  log: Log;
  registry: Registry;
  logger: Logger;
  analytics?: AnalyticsQuery;
  readinessChecks: ReadinessCheck[];
  /** The ingress's shared state (rate limits, idempotency keys), opened by the app (ingress/IngressRedis.ts); memory without it. */
  redis?: Redis;
  /** Hooks that refuse intake with 503 + Retry-After (over the memory budget, the topology too far behind). */
  intakeGuards?: onRequestHookHandler[];
  streams?: StreamsApp;
  pipeline?: DefaultPipeline;
  /** GET /topology's text when the topology runs in worker threads. */
  describeTopology?: () => Promise<string>;
  /** Extra routes for the admin door, registered behind its token (issue 15: the dashboard's reads through query/). */
  adminPlugins?: Array<(scope: FastifyInstance) => Promise<void>>;
  /** Receives each listener's close as soon as it exists, so a failed start still closes what is open. */
  onClose(close: () => Promise<void>): void;
}

export interface Listeners {
  /** The public listener: ingestion, health, the seeds' public reads. */
  http: FastifyInstance;
  /** The separate admin listener; undefined when admin routes share the public one or are off. */
  admin: FastifyInstance | undefined;
  address: string;
  /** Where the admin routes are served (the public address when shared); undefined with ADMIN_PORT=off. */
  adminAddress: string | undefined;
}

/** With PROMETHEUS_PUBLIC=false the public listener keeps the seeds' JSON reads and drops Prometheus text. */
function hidePrometheus(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const path = request.url.split('?', 1)[0];
  const query = (request.query ?? {}) as Record<string, string | undefined>;
  if (path === '/metrics/prometheus' || (path === '/metrics' && query.event_name === undefined && query.format !== 'json')) {
    reply.code(404).send({ error: 'Prometheus metrics are served on the admin listener (PROMETHEUS_PUBLIC=false)' });
    return;
  }
  done();
}

/**
 * The two doors: the public listener (HOST:PORT) and the admin one (ADMIN_HOST:ADMIN_PORT, or a
 * token-guarded scope of the public listener with ADMIN_PORT=public). The admin listener also
 * serves health and metrics, so the dashboard it serves reads them from its own origin.
 */
export async function startListeners(options: ListenersOptions): Promise<Listeners> {
  const { ingressConfig, adminConfig, log, registry, logger, analytics, readinessChecks, streams, pipeline } = options;
  const http = await buildIngress({
    log,
    config: ingressConfig,
    registry,
    logger: logger.child({ component: 'http' }),
    analytics,
    readinessChecks,
    redis: options.redis,
    ingestKeys: options.ingestKeys,
    tls: adminConfig.publicTls,
  });
  for (const guard of options.intakeGuards ?? []) http.addHook('onRequest', guard);
  options.onClose(() => http.close());
  const adminRoutes = { log, registry, streams, pipeline, token: adminConfig.token, describeTopology: options.describeTopology };
  let admin: FastifyInstance | undefined;
  if (adminConfig.mode === 'public') {
    await http.register(async (scope) => {
      await registerAdminRoutes(scope, adminRoutes);
      for (const plugin of options.adminPlugins ?? []) await plugin(scope);
    });
  } else if (adminConfig.mode === 'separate') {
    const adminServer = buildAdminServer({ logger: logger.child({ component: 'admin' }), tls: adminConfig.tls, bodyLimit: ingressConfig.maxBodyBytes });
    admin = adminServer;
    await registerOperatorReads(adminServer, http.ingress, { analytics, readinessChecks });
    await registerAdminRoutes(adminServer, { ...adminRoutes, documentRoutes: () => listenerRoutes({ public: http, admin: adminServer }) });
    for (const plugin of options.adminPlugins ?? []) await plugin(adminServer);
    if (!adminConfig.prometheusPublic) http.addHook('onRequest', hidePrometheus);
    // Closed before the public listener: its health and metrics routes read the ingress runtime.
    options.onClose(() => adminServer.close());
  }
  const address = await http.listen({ host: ingressConfig.host, port: ingressConfig.port });
  let adminAddress: string | undefined;
  if (admin) adminAddress = await admin.listen({ host: adminConfig.host, port: adminConfig.port });
  else if (adminConfig.mode === 'public') adminAddress = address;
  return { http, admin, address, adminAddress };
}

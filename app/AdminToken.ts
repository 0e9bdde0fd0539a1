import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { presentedCredentials, secretDigest, secretMatches } from '../ingress/RequestCredentials.js';

const CHALLENGE = ['Bearer realm="streamline-admin"', 'Basic realm="streamline-admin", charset="UTF-8"'];

function unauthorizedCounter(registry: Registry): Counter<'reason'> {
  const name = 'streamline_admin_unauthorized_total';
  return (registry.getSingleMetric(name) as Counter<'reason'> | undefined)
    ?? new Counter({ name, help: 'Admin requests refused with 401, by reason (missing or invalid token)', labelNames: ['reason'], registers: [registry] });
}

/**
 * onRequest hook of the admin routes: `Authorization: Bearer <ADMIN_TOKEN>` (tools, the CLI) or
 * basic auth with the token as password (a browser opening /dashboard or /docs prompts for it
 * and then sends it with the page's own requests). 401 otherwise, compared in constant time.
 */
export function adminTokenHook(token: string, registry: Registry) {
  const expected = secretDigest(token);
  const refused = unauthorizedCounter(registry);
  return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const { bearer, basic } = presentedCredentials(request.headers);
    const presented = bearer ?? basic?.password;
    if (presented !== undefined && secretMatches(presented, expected)) return done();
    refused.labels(presented === undefined ? 'missing' : 'invalid').inc();
    reply
      .code(401)
      .header('www-authenticate', CHALLENGE)
      .send({ error: presented === undefined ? 'admin token required: Authorization: Bearer <ADMIN_TOKEN>' : 'the admin token is not valid' });
  };
}

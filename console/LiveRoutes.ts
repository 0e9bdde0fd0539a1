import type { FastifyInstance } from 'fastify';

export interface LiveRoute {
  method: string;
  /** fastify's form, e.g. /processor/routes/:id */
  path: string;
  /** Which listeners serve it (e.g. ['public', 'admin']) when the document covers several. */
  listeners?: string[];
}

const LINE = /^((?:[│ ] {3})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/;

/**
 * The routes an app serves, read from fastify's printRoutes() tree (fastify keeps no public
 * route list, and an onRoute hook only sees routes added after it). HEAD routes fastify adds
 * beside GET are left out. Call after app.ready().
 */
export function liveRoutes(app: FastifyInstance): LiveRoute[] {
  const text = app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const out: LiveRoute[] = [];
  for (const line of text.split('\n')) {
    const match = LINE.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    stack.push(match[2]!);
    const path = stack.join('');
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean)) {
      if (method !== 'HEAD') out.push({ method, path });
    }
  }
  return out.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

/**
 * The routes of several listeners (e.g. { public: http, admin }), each once, with the
 * listeners that serve it. Call after every app is ready.
 */
export function listenerRoutes(apps: Record<string, FastifyInstance>): LiveRoute[] {
  const byRoute = new Map<string, LiveRoute>();
  for (const [listener, app] of Object.entries(apps)) {
    for (const route of liveRoutes(app)) {
      const id = `${route.method} ${route.path}`;
      const known = byRoute.get(id);
      if (known) known.listeners!.push(listener);
      else byRoute.set(id, { ...route, listeners: [listener] });
    }
  }
  return [...byRoute.values()].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

import type { FastifyInstance } from 'fastify';

export interface LiveRoute {
  method: string;
  /** fastify's form, e.g. /processor/routes/:id */
  path: string;
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

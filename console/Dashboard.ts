import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** Where the dashboard's files are: beside this file in the source tree, or the source tree seen from dist/. */
export function dashboardDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'dashboard'), path.resolve(here, '../../console/dashboard')];
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'index.html'))) ?? candidates[0]!;
}

/** chart.js's UMD build from node_modules: the browser gets it from the service, no CDN, no bundler. */
function chartJsFile(): string {
  const main = createRequire(import.meta.url).resolve('chart.js');
  return path.join(path.dirname(main), 'chart.umd.min.js');
}

const FILES: Record<string, { file: () => string; type: string }> = {
  '/dashboard': { file: () => path.join(dashboardDir(), 'index.html'), type: 'text/html; charset=utf-8' },
  '/dashboard/dashboard.js': { file: () => path.join(dashboardDir(), 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/prometheus.js': { file: () => path.join(dashboardDir(), 'prometheus.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/dashboard.css': { file: () => path.join(dashboardDir(), 'dashboard.css'), type: 'text/css; charset=utf-8' },
  '/dashboard/chart.umd.js': { file: chartJsFile, type: 'text/javascript; charset=utf-8' },
};

/**
 * GET /dashboard and its static files, read once at registration (a missing file fails the
 * start rather than the first page view). The page reads its own origin: /metrics, /ready and
 * /processor/aggregation, which the admin listener serves beside it.
 */
export async function registerDashboard(app: FastifyInstance): Promise<void> {
  for (const [route, { file, type }] of Object.entries(FILES)) {
    const content = fs.readFileSync(file());
    app.get(route, async (_request, reply) => reply.type(type).header('cache-control', 'no-cache').send(content));
  }
}

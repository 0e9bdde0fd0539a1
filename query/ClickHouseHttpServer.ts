import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { ClickHouseHttpError } from './ClickHouseErrors.js';
import { createReadHandler, type ReadHandlerOptions } from './ReadHandler.js';

export type ClickHouseHttpServerOptions = Omit<ReadHandlerOptions, 'authenticateUsers'>;

/**
 * ClickHouse's HTTP interface, read-only, over the embedded chDB store: GET/POST / with the query,
 * GET /ping, GET / without a query ("Ok."). Headers and errors as a server sends them, so
 * @clickhouse/client, curl recipes and Grafana's ClickHouse data source (HTTP protocol) work as
 * they are.
 */
export function buildClickHouseHttpServer(options: ClickHouseHttpServerOptions): FastifyInstance {
  const { config, logger } = options;
  const app = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // Compressed bodies are limited again after decompression (decodeBody).
    bodyLimit: config.maxQueryBytes,
    keepAliveTimeout: 10_000,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const { handle, sendError, baseHeaders, OK } = createReadHandler({ ...options, authenticateUsers: true });

  app.get('/', handle);
  app.post('/', handle);
  app.get('/ping', async (_request, reply) => reply.headers(baseHeaders()).type('text/plain; charset=UTF-8').send(OK));
  app.get('/replicas_status', async (_request, reply) => reply.type('text/plain; charset=UTF-8').send(OK));
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new ClickHouseHttpError(36, 'BAD_ARGUMENTS', `There is no handle ${request.url.split('?')[0]}. Use / for queries, /ping for health`, 404)),
  );
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    if (error.statusCode === 413) return sendError(reply, new ClickHouseHttpError(62, 'SYNTAX_ERROR', `Max query size exceeded (${config.maxQueryBytes} bytes, CLICKHOUSE_HTTP_MAX_QUERY_SIZE)`, 413));
    return sendError(reply, new ClickHouseHttpError(1001, 'STD_EXCEPTION', error.message, error.statusCode ?? 500));
  });
  return app;
}

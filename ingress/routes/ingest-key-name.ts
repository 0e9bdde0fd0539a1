import type { FastifyRequest } from 'fastify';

/**
 * The name of the ingest API key (INGEST_API_KEYS) the request authenticated with, or undefined
 * when keys are not configured. IngestKeys' hook sets request.ingestKeyName; read through a
 * structural type so the adapters depend on the value, not on how it was declared.
 */
export function ingestKeyName(request: FastifyRequest): string | undefined {
  const name = (request as { ingestKeyName?: string | null }).ingestKeyName;
  return typeof name === 'string' ? name : undefined;
}

/**
 * What the OpenAPI document says about each route the app serves. Request bodies of the ingest
 * routes are not written here: they are built from the ingress's schema files (see
 * OpenApiDocument.ts). A test compares this table with the routes the running app has, so a
 * route added without a line here fails the build instead of going undocumented.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** Which request body the document builds from the schema files. */
export type BodyKind =
  | 'seed000-event'
  | 'seed000-batch'
  | 'collector-batch'
  | 'product-event'
  | 'product-bulk'
  | 'json'
  | 'reference-rows';

export interface QueryParam {
  name: string;
  description: string;
  required?: boolean;
  schema?: Record<string, unknown>;
}

export interface RouteDoc {
  method: HttpMethod;
  /** fastify's form: /processor/routes/:id */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  query?: QueryParam[];
  body?: BodyKind;
  /** status → description */
  responses: Record<string, string>;
  /** Content type of the success answer. */
  produces?: 'application/json' | 'text/plain' | 'text/html';
}

const INGEST_ERRORS = {
  '413': 'Body or batch too large',
  '415': 'Unsupported content type or encoding',
  '429': 'Rate limited (Retry-After)',
  '503': 'Overloaded, or the log is down and the disk spool is full (Retry-After)',
};

const TIME = { type: 'string', description: 'Unix seconds or milliseconds, or ISO 8601' };

export const ROUTE_TABLE: RouteDoc[] = [
  // Seed 000: learning events
  {
    method: 'POST', path: '/api/v1/events/:type', tag: 'seed 000: learning events', body: 'seed000-event',
    summary: 'Ingest one learning event',
    description: 'One path per seed000 schema file (x-event-type). Idempotency by the schema\'s x-id-field, or the Idempotency-Key header.',
    responses: { '202': 'Accepted (or a duplicate: status "duplicate")', '400': 'Validation failed: {success: false, error, details: [{field, message}]}', '404': 'Unknown event type', ...INGEST_ERRORS },
  },
  {
    method: 'POST', path: '/api/v1/events/batch', tag: 'seed 000: learning events', body: 'seed000-batch',
    summary: 'Ingest up to 100 learning events',
    description: 'Items are bare events (type inferred) or {event_type|type, data|payload|event} wrappers.',
    responses: { '200': 'All accepted', '207': 'Some rejected (results per index)', '400': 'None valid', ...INGEST_ERRORS },
  },
  // Seed 001: collector
  {
    method: 'POST', path: '/api/v1/collect', tag: 'seed 001: collector', body: 'collector-batch',
    summary: 'Collect a batch of 1 to 1000 events',
    description: 'An array or {batch_id, events, metadata}; NDJSON and gzip welcome. Rejected events go to the DLQ topic.',
    responses: { '200': 'All accepted', '207': 'Some rejected (dlq_events)', '422': 'All rejected', '400': 'Not a batch', ...INGEST_ERRORS },
  },
  { method: 'GET', path: '/api/v1/health', tag: 'seed 001: collector', summary: 'Collector health (buffer, throughput)', responses: { '200': 'Healthy or degraded', '503': 'Spool full' } },
  { method: 'GET', path: '/api/v1/metrics', tag: 'seed 001: collector', summary: 'Collector counters (JSON)', responses: { '200': 'Counters' } },
  // Seed 004: product events and analytics
  {
    method: 'POST', path: '/events', tag: 'seed 004: product events', body: 'product-event',
    summary: 'Ingest one product event',
    description: 'Answers exactly {"status":"accepted"}; the id is in X-Event-Id, X-Duplicate: true on a repeat.',
    responses: { '202': 'Accepted', '400': 'Validation failed: {error} naming the field', ...INGEST_ERRORS },
  },
  {
    method: 'POST', path: '/events/bulk', tag: 'seed 004: product events', body: 'product-bulk',
    summary: 'Ingest up to 1000 product events',
    responses: { '202': 'All accepted', '207': 'Some rejected (errors per index)', '400': 'None valid', ...INGEST_ERRORS },
  },
  {
    method: 'GET', path: '/metrics', tag: 'metrics', produces: 'text/plain',
    summary: 'Prometheus text; seed 004 analytics JSON with event_name; seed 000 JSON with format=json',
    description: 'Three seeds claim GET /metrics. Without parameters: Prometheus text of every streamline_ metric. With event_name: seed 004\'s analytics answer {event_name, from, to, grouped_by, total_events, unique_users, data: [{group, total_events, unique_users}]} from ClickHouse (503 when no analytics store is configured). With format=json: seed 000\'s JSON metrics.',
    query: [
      { name: 'event_name', description: 'seed 004: the event name to count' },
      { name: 'from', description: 'seed 004: Unix seconds (default: to - 24 h)', schema: { type: 'integer', minimum: 0 } },
      { name: 'to', description: 'seed 004: Unix seconds (default: now)', schema: { type: 'integer', minimum: 0 } },
      { name: 'group_by', description: 'seed 004: channel or hour', schema: { type: 'string', enum: ['channel', 'hour'] } },
      { name: 'format', description: 'json: seed 000\'s JSON metrics', schema: { type: 'string', enum: ['json'] } },
    ],
    responses: { '200': 'Prometheus text, or JSON as the parameters ask', '400': 'A bad analytics parameter, named', '503': 'Analytics store not configured' },
  },
  { method: 'GET', path: '/metrics/prometheus', tag: 'metrics', produces: 'text/plain', summary: 'Prometheus text (seed 003)', responses: { '200': 'Prometheus text' } },
  { method: 'GET', path: '/metrics/publisher', tag: 'metrics', summary: 'Publisher counters (seed 003)', responses: { '200': 'Counters' } },
  { method: 'GET', path: '/metrics/publisher/health', tag: 'metrics', summary: 'Publisher health checks (seed 003)', responses: { '200': 'Healthy or degraded', '503': 'Unhealthy' } },
  // Health
  { method: 'GET', path: '/health', tag: 'health', summary: 'Liveness and components (seeds 000, 004)', responses: { '200': 'Serving' } },
  { method: 'GET', path: '/ready', tag: 'health', summary: 'Readiness: log, spool, Redis, topology, ClickHouse', responses: { '200': 'Ready', '503': 'Not ready: the failed checks named' } },
  // Topology and seed 002's processor API
  { method: 'GET', path: '/topology', tag: 'topology', produces: 'text/plain', summary: 'The running topology, described like Kafka Streams\' TopologyDescription', responses: { '200': 'Text' } },
  { method: 'GET', path: '/metrics/processor', tag: 'seed 002: processor', summary: 'Processing counters', responses: { '200': 'Counters' } },
  { method: 'GET', path: '/processor/status', tag: 'seed 002: processor', summary: 'Runtime state and tasks', responses: { '200': 'Running', '503': 'Unhealthy' } },
  { method: 'GET', path: '/processor/enrichment', tag: 'seed 002: processor', summary: 'Reference join hits and misses', responses: { '200': 'Statistics' } },
  { method: 'GET', path: '/processor/filters', tag: 'seed 002: processor', summary: 'Filter rules with match counts, routing rules', responses: { '200': 'Rules' } },
  { method: 'POST', path: '/processor/filters/reload', tag: 'seed 002: processor', summary: 'Re-read FILTER_RULES_FILE', responses: { '200': 'Reloaded', '400': 'Bad file: the old rules stay' } },
  { method: 'PUT', path: '/processor/filters', tag: 'seed 002: processor', body: 'json', summary: 'Replace the filter rules', responses: { '200': 'Replaced', '400': 'Invalid rules' } },
  { method: 'GET', path: '/processor/routes', tag: 'seed 002: processor', summary: 'Routing rules', responses: { '200': 'Rules' } },
  { method: 'POST', path: '/processor/routes', tag: 'seed 002: processor', body: 'json', summary: 'Add a routing rule', responses: { '201': 'Added', '400': 'Invalid rule' } },
  { method: 'DELETE', path: '/processor/routes/:id', tag: 'seed 002: processor', summary: 'Remove a routing rule', responses: { '200': 'Removed', '404': 'No such rule' } },
  { method: 'GET', path: '/processor/aggregations', tag: 'seed 002: processor', summary: 'The aggregators and their windows', responses: { '200': 'Aggregators' } },
  {
    method: 'GET', path: '/processor/aggregation', tag: 'seed 002: processor', summary: 'Windows of one key of one aggregator (interactive query)',
    query: [
      { name: 'aggregator', required: true, description: 'e.g. user_hourly_attempts, item_hourly_performance, jurisdiction_daily_stats, system_5m_throughput' },
      { name: 'key', required: true, description: 'e.g. user:123, item:abc, jurisdiction:US, system' },
      { name: 'from', description: 'window start at or after', schema: TIME },
      { name: 'to', description: 'window start at or before', schema: TIME },
    ],
    responses: { '200': '{aggregator, key, from, to, windows, data}', '400': 'Missing or bad parameter', '404': 'Unknown aggregator' },
  },
  { method: 'POST', path: '/processor/reference/:kind', tag: 'seed 002: processor', body: 'reference-rows', summary: 'Load users or items reference rows (NDJSON or a JSON array)', responses: { '202': 'Written', '400': 'A bad row, named', '404': 'Unknown table' } },
  {
    method: 'POST', path: '/processor/dlq/replay', tag: 'seed 002: processor', summary: 'Dead letters back to their original topic',
    query: [
      { name: 'reason', description: 'regular expression on dlq_reason' },
      { name: 'limit', description: 'at most this many', schema: { type: 'integer', minimum: 1 } },
    ],
    responses: { '200': '{replayed, skipped, next_offsets}', '400': 'Bad parameter' },
  },
  // The console itself
  { method: 'GET', path: '/dashboard', tag: 'console', produces: 'text/html', summary: 'Live dashboard (pipeline and analytics)', responses: { '200': 'HTML' } },
  { method: 'GET', path: '/openapi.json', tag: 'console', summary: 'This document', responses: { '200': 'OpenAPI 3.1' } },
  { method: 'GET', path: '/redoc', tag: 'console', produces: 'text/html', summary: 'This document in ReDoc (loads ReDoc from its CDN)', responses: { '200': 'HTML' } },
];

/**
 * Routes that serve the console's own files (Swagger UI and its assets, the dashboard's
 * scripts): they are not part of the API and stay out of the document.
 */
export function isDocumentedPath(path: string): boolean {
  return !(path === '/docs' || path.startsWith('/docs/') || path.startsWith('/dashboard/'));
}

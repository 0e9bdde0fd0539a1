import { type EventSchema, exampleEvents } from './EventSchemas.js';
import type { LiveRoute } from './LiveRoutes.js';
import { type BodyKind, isDocumentedPath, ROUTE_TABLE, type RouteDoc } from './RouteTable.js';

type Json = Record<string, unknown>;

export interface DocumentOptions {
  schemas: EventSchema[];
  /** The routes the app serves (liveRoutes(app)): the document lists exactly these. */
  routes: LiveRoute[];
  table?: RouteDoc[];
  title?: string;
  version?: string;
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

/** "/processor/routes/:id" → "/processor/routes/{id}" */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{wildcard}');
}

/**
 * An example a client can send, with the status the route answers (x-expected-status): the
 * document's own examples are proved against the live routes by test/console/openapi.test.ts.
 */
function example(summary: string, value: unknown, status: number) {
  return { summary, value, 'x-expected-status': status };
}

function jsonBody(schema: Json, examples?: Record<string, unknown>, description?: string) {
  return {
    required: true,
    ...(description ? { description } : {}),
    content: { 'application/json': { schema, ...(examples ? { examples } : {}) } },
  };
}

function kindsOf(schemas: EventSchema[], source: string): EventSchema[] {
  return schemas.filter((s) => s.source === source && s.eventType !== undefined);
}

/** The request body of an operation, from the schema files; seed000-event is built per path. */
function requestBody(kind: BodyKind, schemas: EventSchema[], eventSchema?: EventSchema): Json | undefined {
  switch (kind) {
    case 'seed000-event': {
      const ex = exampleEvents(eventSchema!, schemas);
      return jsonBody(ref(eventSchema!.id), {
        valid: example('A valid event', ex.valid, 202),
        invalid: example(`Invalid: ${ex.missing} missing`, ex.invalid, 400),
      });
    }
    case 'seed000-batch': {
      const kinds = kindsOf(schemas, 'seed000');
      const item = { oneOf: [...kinds.map((k) => ref(k.id)), { type: 'object', description: 'wrapper', properties: { event_type: { type: 'string', enum: kinds.map((k) => k.eventType) }, data: { type: 'object' } } }] };
      const items = { type: 'array', minItems: 1, maxItems: 100, items: item };
      const attempt = exampleEvents(kinds.find((k) => k.eventType === 'attempt') ?? kinds[0]!, schemas);
      return jsonBody({ oneOf: [items, { type: 'object', required: ['events'], properties: { events: items } }] }, {
        valid: example('One valid event', { events: [attempt.valid] }, 200),
        invalid: example(`Invalid: ${attempt.missing} missing`, { events: [attempt.invalid] }, 400),
      });
    }
    case 'collector-batch': {
      const kinds = kindsOf(schemas, 'collector');
      const items = { type: 'array', minItems: 1, maxItems: 1000, items: { oneOf: kinds.map((k) => ref(k.id)) } };
      const first = exampleEvents(kinds.find((k) => k.eventType === 'interaction') ?? kinds[0]!, schemas);
      return jsonBody({
        oneOf: [items, { type: 'object', required: ['events'], properties: { batch_id: { type: 'string' }, events: items, metadata: { type: 'object' } } }],
      }, {
        valid: example('A batch of one valid event', { batch_id: 'batch-1', events: [first.valid] }, 200),
        invalid: example(`Invalid: ${first.missing} missing (the event goes to the DLQ)`, { batch_id: 'batch-2', events: [first.invalid] }, 422),
      }, `event_type picks the schema: ${kinds.map((k) => k.eventType).join(', ')}`);
    }
    case 'product-event': {
      const product = kindsOf(schemas, 'product')[0]!;
      const ex = exampleEvents(product, schemas);
      return jsonBody(ref(product.id), {
        valid: example('A valid event', ex.valid, 202),
        invalid: example(`Invalid: ${ex.missing} missing`, ex.invalid, 400),
      });
    }
    case 'product-bulk': {
      const product = kindsOf(schemas, 'product')[0]!;
      const ex = exampleEvents(product, schemas);
      const items = { type: 'array', minItems: 1, maxItems: 1000, items: ref(product.id) };
      return jsonBody({ oneOf: [items, { type: 'object', required: ['events'], properties: { events: items } }] }, {
        valid: example('Two valid events', { events: [ex.valid, { ...ex.valid, user_id: 'user_67890' }] }, 202),
        invalid: example(`Invalid: ${ex.missing} missing`, { events: [ex.invalid] }, 400),
      });
    }
    case 'reference-rows':
      return {
        required: true,
        content: {
          'application/x-ndjson': { schema: { type: 'string', description: 'one JSON object per line with user_id / item_id' } },
          'application/json': { schema: { type: 'array', items: { type: 'object' } } },
        },
      };
    case 'json':
      return jsonBody({ type: 'object' });
  }
}

function operation(doc: RouteDoc, schemas: EventSchema[], pathParams: string[], eventSchema?: EventSchema): Json {
  const parameters = [
    ...pathParams.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
    ...(doc.query ?? []).map((q) => ({ name: q.name, in: 'query', required: q.required ?? false, description: q.description, schema: q.schema ?? { type: 'string' } })),
  ];
  const responses: Json = {};
  for (const [status, description] of Object.entries(doc.responses)) {
    const ok = status.startsWith('2');
    const type = ok ? (doc.produces ?? 'application/json') : 'application/json';
    responses[status] = { description, content: { [type]: { schema: type === 'application/json' ? { type: 'object' } : { type: 'string' } } } };
  }
  const summary = eventSchema ? `${doc.summary}: ${eventSchema.eventType}` : doc.summary;
  return {
    tags: [doc.tag],
    summary,
    ...(doc.description ? { description: doc.description } : {}),
    operationId: `${doc.method.toLowerCase()}${openApiPath(eventSchema ? doc.path.replace(':type', eventSchema.eventType!) : doc.path).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    ...(parameters.length ? { parameters } : {}),
    ...(doc.body ? { requestBody: requestBody(doc.body, schemas, eventSchema) } : {}),
    responses,
  };
}

/** Which listener serves an operation, when the document covers the public and the admin one. */
function onListeners(op: Json, live: LiveRoute): Json {
  if (!live.listeners) return op;
  const where = live.listeners.join(' and ');
  const security = live.listeners.includes('admin') && !live.listeners.includes('public') ? [{ adminToken: [] }] : undefined;
  return { ...op, description: `${op.description ? `${op.description as string} ` : ''}Served on the ${where} listener${live.listeners.length > 1 ? 's' : ''}.`, 'x-listeners': live.listeners, ...(security ? { security } : {}) };
}

/**
 * OpenAPI 3.1 of the routes the app serves. Event schemas are the ingress's files as components;
 * the route table adds summaries, parameters and answers. A live route missing from the table is
 * still listed (x-undocumented: true), so the document never hides a route.
 */
export function buildOpenApiDocument(options: DocumentOptions): Json {
  const table = options.table ?? ROUTE_TABLE;
  const paths: Record<string, Json> = {};
  const add = (path: string, method: string, op: Json) => {
    (paths[path] ??= {})[method.toLowerCase()] = op;
  };
  for (const live of options.routes) {
    if (!isDocumentedPath(live.path)) continue;
    const doc = table.find((d) => d.method === live.method && d.path === live.path);
    const pathParams = [...live.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
    if (!doc) {
      add(openApiPath(live.path), live.method, {
        summary: `${live.method} ${live.path}`,
        'x-undocumented': true,
        ...(pathParams.length ? { parameters: pathParams.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })) } : {}),
        responses: { default: { description: 'Not described yet' } },
      });
      continue;
    }
    if (doc.body === 'seed000-event') {
      // One path per schema file: the file is the route's contract.
      for (const kind of kindsOf(options.schemas, 'seed000')) add(`/api/v1/events/${kind.eventType}`, doc.method, onListeners(operation(doc, options.schemas, [], kind), live));
      continue;
    }
    add(openApiPath(live.path), doc.method, onListeners(operation(doc, options.schemas, pathParams), live));
  }
  const components: Record<string, Json> = {};
  for (const schema of options.schemas) components[schema.id] = schema.component;
  return {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'Streamline',
      version: options.version ?? '0.1.0',
      description: 'The event pipeline\'s HTTP API: the seeds\' ingest routes (validated by the JSON Schemas below, the same files the ingress compiles), health, metrics, the topology and the processor API.',
    },
    tags: [...new Set(table.map((d) => d.tag))].map((name) => ({ name })),
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: {
      schemas: components,
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN, required on the admin listener when set' },
        ingestKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'A source write key of INGEST_API_KEYS, required on the ingestion routes when set (also as Authorization: Bearer, or basic auth with the key as user)' },
      },
    },
  };
}

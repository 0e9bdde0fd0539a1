import fs from 'node:fs';
import { defaultSchemaDir, listJsonFiles } from '../ingress/index.js';

type Schema = Record<string, unknown>;

/** One ingress schema file, as OpenAPI sees it: a component named by its $id. */
export interface EventSchema {
  id: string;
  file: string;
  /** The file's schema, unchanged (for examples and tests). */
  raw: Schema;
  /** The same schema with $id dropped and $ref "<id>" pointing at #/components/schemas/<id>. */
  component: Schema;
  source?: string;
  eventType?: string;
}


function rewriteRefs(value: unknown, ids: Set<string>): unknown {
  if (Array.isArray(value)) return value.map((item) => rewriteRefs(item, ids));
  if (typeof value !== 'object' || value === null) return value;
  const out: Schema = {};
  for (const [key, child] of Object.entries(value as Schema)) {
    if (key === '$id') continue;
    if (key === '$ref' && typeof child === 'string' && ids.has(child)) out.$ref = `#/components/schemas/${child}`;
    else out[key] = rewriteRefs(child, ids);
  }
  return out;
}

/**
 * The JSON Schema files the ingress's SchemaCatalog compiles (the same directories, the same
 * files), turned into OpenAPI components. Docs are generated from these at request time, so the
 * documented body of a route is exactly what its validator checks.
 */
export function loadEventSchemas(dirs: string[] = [defaultSchemaDir()]): EventSchema[] {
  const raws: Array<{ file: string; raw: Schema }> = [];
  for (const dir of dirs) {
    for (const file of listJsonFiles(dir)) raws.push({ file, raw: JSON.parse(fs.readFileSync(file, 'utf8')) as Schema });
  }
  const ids = new Set(raws.map(({ raw }) => raw.$id as string));
  return raws.map(({ file, raw }) => ({
    id: raw.$id as string,
    file,
    raw,
    component: rewriteRefs(raw, ids) as Schema,
    source: raw['x-source'] as string | undefined,
    eventType: raw['x-event-type'] as string | undefined,
  }));
}

/** Properties and required fields of a schema, with those of allOf $refs merged in. */
function flatten(schema: Schema, byId: Map<string, EventSchema>): { properties: Record<string, Schema>; required: string[] } {
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  for (const part of (schema.allOf as Schema[] | undefined) ?? []) {
    const target = typeof part.$ref === 'string' ? byId.get(part.$ref)?.raw : part;
    if (!target) continue;
    const inner = flatten(target, byId);
    Object.assign(properties, inner.properties);
    required.push(...inner.required);
  }
  Object.assign(properties, (schema.properties as Record<string, Schema> | undefined) ?? {});
  required.push(...((schema.required as string[] | undefined) ?? []));
  return { properties, required: [...new Set(required)] };
}

const EXAMPLE_TIME_MS = 1708732800000;

function exampleValue(name: string, schema: Schema, byId: Map<string, EventSchema>): unknown {
  if (typeof schema.$ref === 'string') {
    const target = byId.get(schema.$ref);
    return target ? exampleValue(name, target.raw, byId) : 'example';
  }
  if (Array.isArray(schema.enum)) return schema.enum[0];
  switch (schema.type) {
    case 'integer':
      return name === 'timestamp' ? EXAMPLE_TIME_MS : Math.max(0, Number(schema.minimum ?? 0));
    case 'number':
      return Number(schema.minimum ?? 0);
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'object':
      return {};
    case 'string':
      if (schema.format === 'date-time') return new Date(EXAMPLE_TIME_MS).toISOString();
      if (name === 'user_id' || name === 'learner_id') return 'user_12345';
      if (name === 'event_name') return 'product_view';
      return `${name}-1`;
    default:
      return 'example';
  }
}

/**
 * A minimal valid event of an event-type schema: its required fields, filled by type (the
 * collector's event_type set to the schema's x-event-type). The invalid twin lacks the first
 * required field. Tests prove both against the validator and the live routes.
 */
export function exampleEvents(schema: EventSchema, all: EventSchema[]): { valid: Schema; invalid: Schema; missing: string } {
  const byId = new Map(all.map((s) => [s.id, s]));
  const { properties, required } = flatten(schema.raw, byId);
  const valid: Schema = {};
  for (const field of required) valid[field] = exampleValue(field, properties[field] ?? {}, byId);
  if ('event_type' in valid && schema.eventType) valid.event_type = schema.eventType;
  if (schema.source === 'product' && properties.channel) valid.channel = 'web';
  const missing = required.find((field) => field !== 'event_type') ?? required[0]!;
  const invalid = { ...valid };
  delete invalid[missing];
  return { valid, invalid, missing };
}

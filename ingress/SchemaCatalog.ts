import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; under NodeNext its default import is the module object's type.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export type EventSource = 'seed000' | 'collector' | 'product';

/** One event type the ingress accepts, as declared by a schema file with x-event-type. */
export interface EventKind {
  /** Schema $id, e.g. "seed000-attempt". */
  schemaId: string;
  source: EventSource;
  /** The landing envelope's event_type, e.g. "attempt", "interaction", "product". */
  eventType: string;
  /** Field holding the client's idempotency id; the ingress assigns a UUID when it is absent. */
  idField: string;
  /** Field holding the partition key (user id / learner id). */
  keyField: string;
  /** Dedupe window for this kind; undefined uses the configured default. */
  dedupeTtlMs?: number;
  validate: ValidateFunction;
}

export interface FieldError {
  field: string;
  message: string;
}

const SOURCES: readonly EventSource[] = ['seed000', 'collector', 'product'];

/** Where the schema files are: beside this file in the source tree, or the source tree seen from dist/. */
export function defaultSchemaDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'schemas'), path.resolve(here, '../../ingress/schemas')];
  return candidates.find((dir) => fs.existsSync(dir)) ?? candidates[0]!;
}

/** Every .json file under dir, depth first, in name order: the order schemas are loaded in. */
export function listJsonFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listJsonFiles(full));
    else if (entry.name.endsWith('.json')) out.push(full);
  }
  return out;
}

/**
 * Every JSON Schema file under the schema directories, read and checked against the JSON Schema
 * meta-schema at start, each event kind's validator compiled on its first use (compileAll()
 * compiles them all at once, e.g. in a test or a check of new schema files). A file with
 * x-source and x-event-type declares an event kind; the others (shared envelopes, enums) are
 * there to be referenced by $id. Adding an event type is adding a file.
 */
export class SchemaCatalog {
  readonly kinds: EventKind[] = [];
  private readonly bySource = new Map<EventSource, Map<string, EventKind>>(SOURCES.map((source) => [source, new Map()]));
  private readonly ajv: Ajv;

  constructor(dirs: string[] = [defaultSchemaDir()]) {
    // "fast" formats are single regexes: enough to reject what is not a timestamp, at ingest speed.
    this.ajv = new Ajv({ allErrors: true, strict: true, coerceTypes: false, useDefaults: false });
    addFormats(this.ajv, { mode: 'fast', formats: ['date-time', 'date', 'time', 'uuid', 'email', 'uri'] });
    for (const keyword of ['x-source', 'x-event-type', 'x-id-field', 'x-key-field']) {
      this.ajv.addKeyword({ keyword, schemaType: 'string' });
    }
    this.ajv.addKeyword({ keyword: 'x-dedupe-ttl-ms', schemaType: 'number' });

    const schemas: Array<{ file: string; schema: Record<string, unknown> }> = [];
    for (const dir of dirs) {
      for (const file of listJsonFiles(dir)) {
        let schema: Record<string, unknown>;
        try {
          schema = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
        } catch (error) {
          throw new Error(`schema file ${file} is not valid JSON: ${(error as Error).message}`);
        }
        if (typeof schema.$id !== 'string') throw new Error(`schema file ${file} has no "$id"`);
        this.ajv.addSchema(schema);
        schemas.push({ file, schema });
      }
    }
    const ajv = this.ajv;
    for (const { file, schema } of schemas) {
      if (schema['x-event-type'] === undefined) continue;
      const source = schema['x-source'] as EventSource;
      if (!SOURCES.includes(source)) throw new Error(`schema file ${file}: x-source must be one of ${SOURCES.join(', ')}`);
      const schemaId = schema.$id as string;
      // Compiled on first use, not here: compiling every kind cost ~0.3 s of CPU on each start,
      // before the process could answer /ready, for kinds a deployment may never receive.
      let compiled: ValidateFunction | undefined;
      const kind: EventKind = {
        schemaId,
        source,
        eventType: schema['x-event-type'] as string,
        idField: (schema['x-id-field'] as string | undefined) ?? 'event_id',
        keyField: (schema['x-key-field'] as string | undefined) ?? 'user_id',
        dedupeTtlMs: schema['x-dedupe-ttl-ms'] as number | undefined,
        get validate(): ValidateFunction {
          if (compiled) return compiled;
          try {
            compiled = ajv.getSchema(schemaId)!;
          } catch (error) {
            throw new Error(`schema file ${file} does not compile: ${(error as Error).message}`);
          }
          return compiled;
        },
      };
      const kinds = this.bySource.get(source)!;
      if (kinds.has(kind.eventType)) throw new Error(`schema file ${file}: event type ${source}/${kind.eventType} is declared twice`);
      kinds.set(kind.eventType, kind);
      this.kinds.push(kind);
    }
  }

  /** Compiles every kind's validator now: a schema that does not compile throws here, naming its file. */
  compileAll(): this {
    for (const kind of this.kinds) void kind.validate;
    return this;
  }

  kind(source: EventSource, eventType: string): EventKind | undefined {
    return this.bySource.get(source)!.get(eventType);
  }

  /** The kinds of one source by event type (for per-event lookups without building strings). */
  kindsOf(source: EventSource): ReadonlyMap<string, EventKind> {
    return this.bySource.get(source)!;
  }

  eventTypes(source: EventSource): string[] {
    return this.kinds.filter((kind) => kind.source === source).map((kind) => kind.eventType);
  }
}

let sharedCatalog: SchemaCatalog | undefined;

/**
 * The catalog of the default schema directory, compiled once per process (a thread has its own),
 * so the HTTP routes and the topology's parse step validate with the same compiled functions and
 * answer with the same error text (docs/LANDING.md).
 */
export function defaultSchemaCatalog(): SchemaCatalog {
  sharedCatalog ??= new SchemaCatalog([defaultSchemaDir()]);
  return sharedCatalog;
}

/** "/results/ability_estimates" → "results.ability_estimates", "/tags/0" → "tags[0]". */
function fieldPath(instancePath: string, child?: string): string {
  let out = '';
  if (instancePath.length > 0) {
    for (const part of instancePath.slice(1).split('/')) {
      const name = part.replace(/~1/g, '/').replace(/~0/g, '~');
      if (/^\d+$/.test(name)) out += `[${name}]`;
      else out += out.length === 0 ? name : `.${name}`;
    }
  }
  if (child !== undefined) out += out.length === 0 ? child : `.${child}`;
  if (out.length > MAX_FIELD_CHARS) out = out.slice(0, MAX_FIELD_CHARS) + '…';
  return out.length === 0 ? '(body)' : out;
}

/**
 * Field paths are built from the client's keys and errors are echoed in answers and DLQ
 * records: both are capped, so an event with a megabyte-long key or ten thousand unknown keys
 * costs a bounded answer.
 */
const MAX_FIELD_CHARS = 200;
const MAX_FIELD_ERRORS = 20;

/** ajv's errors as one message per field, each naming the field. */
export function fieldErrors(errors: ErrorObject[] | null | undefined): FieldError[] {
  if (!errors) return [];
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    const params = error.params as Record<string, unknown>;
    let field: string;
    let message: string;
    switch (error.keyword) {
      case 'required':
        field = fieldPath(error.instancePath, params.missingProperty as string);
        message = `${field} is required`;
        break;
      case 'type':
        field = fieldPath(error.instancePath);
        message = `${field} must be ${params.type === 'integer' ? 'an integer' : `of type ${String(params.type)}`}`;
        break;
      case 'enum':
        field = fieldPath(error.instancePath);
        message = `${field} must be one of: ${(params.allowedValues as unknown[]).map((v) => (v === '' ? '""' : String(v))).join(', ')}`;
        break;
      case 'format':
        field = fieldPath(error.instancePath);
        message = `${field} must be a valid ${String(params.format)}`;
        break;
      case 'minLength':
        field = fieldPath(error.instancePath);
        message = params.limit === 1 ? `${field} must not be empty` : `${field} must have at least ${String(params.limit)} characters`;
        break;
      case 'additionalProperties':
        field = fieldPath(error.instancePath, params.additionalProperty as string);
        message = `${field} is not allowed`;
        break;
      default:
        field = fieldPath(error.instancePath);
        message = `${field} ${error.message ?? 'is invalid'}`;
    }
    if (!seen.has(message)) {
      seen.add(message);
      out.push({ field, message });
      if (out.length === MAX_FIELD_ERRORS) break;
    }
  }
  return out;
}

import type { FieldError } from './SchemaCatalog.js';

/**
 * Checks an event's shape before anything recurses over it or stores it: nesting depth
 * (JSON.stringify, the topology's serde and ClickHouse all recurse, and a 100k-deep body once
 * overflowed the stack while the ingress built a DLQ record) and well-formed UTF-16 in every
 * string, keys included (a lone surrogate such as "\ud800" parses fine but ClickHouse refuses
 * the row, and the sink retried that insert forever).
 *
 * The walk is iterative (an explicit stack), so its own cost is bounded by the event's size and
 * never by the call stack.
 */

/** Longest field path quoted in an error: the path is built from client keys, which can be megabytes long. */
const MAX_FIELD_CHARS = 200;

/**
 * True when text (a raw JSON text) may hold a lone surrogate. A JSON text decoded from UTF-8
 * cannot carry a surrogate code unit except through a \uD800-\uDFFF escape, so a text without
 * one needs no string checks at all (the common case, a single native regex scan).
 */
export function mayHoldSurrogateEscape(text: string): boolean {
  // includes() is native and an order of magnitude cheaper than the regex; most texts hold no \u at all.
  return text.includes('\\u') && SURROGATE_ESCAPE.test(text);
}
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** ES2024's String.prototype.isWellFormed / toWellFormed (Node 20 has them; the project's lib is ES2023). */
type Es2024String = string & { isWellFormed(): boolean; toWellFormed(): string };
export const isWellFormed = (text: string): boolean => (text as Es2024String).isWellFormed();
export const toWellFormed = (text: string): string => (text as Es2024String).toWellFormed();

interface Frame {
  value: unknown;
  depth: number;
  /** Where the container is: its parent and its key there (the path is only spelled out for an error). */
  parent: Frame | null;
  key: string | number;
}

function clip(field: string): string {
  return field.length > MAX_FIELD_CHARS ? field.slice(0, MAX_FIELD_CHARS) + '…' : field;
}

/** "a.b[3].c" for the key under a frame; long keys are clipped so a path never grows with the client's key sizes. */
function pathOf(frame: Frame | null, key?: string | number): string {
  const parts: Array<string | number> = key === undefined ? [] : [key];
  for (let f = frame; f !== null && f.parent !== null; f = f.parent) parts.push(f.key);
  let out = '';
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i]!;
    if (typeof part === 'number') out += `[${part}]`;
    else out += (out.length === 0 ? '' : '.') + clip(part);
    if (out.length > MAX_FIELD_CHARS) break;
  }
  return clip(out);
}

/**
 * The first problem with the event's shape, or null. `maxDepth` counts containers: the event
 * object itself is depth 1, so {"a": {"b": 1}} has depth 2. `checkStrings` false skips the
 * UTF-16 checks (see mayHoldSurrogateEscape).
 */
export interface ShapeProblem {
  reason: 'too_deep' | 'malformed_text';
  error: FieldError;
}

export function eventShapeError(event: unknown, maxDepth: number, checkStrings: boolean): ShapeProblem | null {
  const stack: Frame[] = [{ value: event, depth: 1, parent: null, key: '' }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const { value, depth } = frame;
    if (depth > maxDepth) {
      const path = pathOf(frame);
      const field = path.length === 0 ? '(event)' : path;
      return { reason: 'too_deep', error: { field, message: `${field} nests deeper than ${maxDepth} levels` } };
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (typeof item === 'object' && item !== null) stack.push({ value: item, depth: depth + 1, parent: frame, key: i });
        else if (checkStrings && typeof item === 'string' && !isWellFormed(item)) return surrogateError(pathOf(frame, i));
      }
      continue;
    }
    const record = value as Record<string, unknown>;
    for (const key in record) {
      if (checkStrings && !isWellFormed(key)) return surrogateError(pathOf(frame, toWellFormed(key)), 'has a key that');
      const item = record[key];
      if (typeof item === 'object' && item !== null) stack.push({ value: item, depth: depth + 1, parent: frame, key });
      else if (checkStrings && typeof item === 'string' && !isWellFormed(item)) return surrogateError(pathOf(frame, key));
    }
  }
  return null;
}

function surrogateError(field: string, what = ''): ShapeProblem {
  const subject = what.length > 0 ? `${field} ${what}` : field;
  return { reason: 'malformed_text', error: { field, message: `${subject} is not well-formed UTF-16 (a lone surrogate such as \\ud800); send valid Unicode text` } };
}

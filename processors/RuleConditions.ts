import { MAX_RULE_DEPTH, tooDeepAt } from './JsonDepth.js';
import { compileSafePattern, type SafePattern } from './SafePattern.js';
import { NamedError } from '../errors/NamedError.js';

/**
 * Conditions shared by filter rules and routing rules (seed 002's filter conditions): a leaf
 * compares the value at a dotted field path ("payload.time_taken_ms", "enrichment.user.type")
 * with an operand; all / any / not combine. Conditions are data (JSON), compiled once into
 * closures so a rule costs a few property reads per event.
 */
export type ConditionOp = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'contains' | 'regex' | 'in' | 'range' | 'exists';

export interface LeafCondition {
  field: string;
  op: ConditionOp;
  /** eq/ne: any JSON value; gt..lte: number; contains: string or array element; regex: pattern; in: array; range: [min, max] inclusive; exists: boolean (default true). */
  value?: unknown;
  /** regex only: flags i, m, s (u, g, d accepted and change nothing). Patterns run on RE2: see SafePattern. */
  flags?: string;
}

export type Condition = LeafCondition | { all: Condition[] } | { any: Condition[] } | { not: Condition };

export type CompiledCondition = (target: unknown) => boolean;

export class ConditionError extends NamedError {}

/** The value at a dotted path; undefined when any step is missing. */
export function valueAt(target: unknown, path: readonly string[]): unknown {
  let current = target;
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) return JSON.stringify(a) === JSON.stringify(b);
  return false;
}

function numeric(field: string, op: string, operand: unknown): number {
  if (typeof operand !== 'number' || !Number.isFinite(operand)) throw new ConditionError(`${field} ${op}: the value must be a number`);
  return operand;
}

function compileLeaf(leaf: LeafCondition): CompiledCondition {
  if (typeof leaf.field !== 'string' || leaf.field.length === 0) throw new ConditionError('a condition needs a field');
  const path = leaf.field.split('.');
  const get = (target: unknown) => valueAt(target, path);
  const { field, op, value } = leaf;
  switch (op) {
    case 'eq':
      return (t) => equal(get(t), value);
    case 'ne':
      return (t) => !equal(get(t), value);
    case 'gt': {
      const n = numeric(field, op, value);
      return (t) => {
        const v = get(t);
        return typeof v === 'number' && v > n;
      };
    }
    case 'gte': {
      const n = numeric(field, op, value);
      return (t) => {
        const v = get(t);
        return typeof v === 'number' && v >= n;
      };
    }
    case 'lt': {
      const n = numeric(field, op, value);
      return (t) => {
        const v = get(t);
        return typeof v === 'number' && v < n;
      };
    }
    case 'lte': {
      const n = numeric(field, op, value);
      return (t) => {
        const v = get(t);
        return typeof v === 'number' && v <= n;
      };
    }
    case 'range': {
      if (!Array.isArray(value) || value.length !== 2) throw new ConditionError(`${field} range: the value must be [min, max]`);
      const min = numeric(field, op, value[0]);
      const max = numeric(field, op, value[1]);
      if (min > max) throw new ConditionError(`${field} range: min ${min} is above max ${max}`);
      return (t) => {
        const v = get(t);
        return typeof v === 'number' && v >= min && v <= max;
      };
    }
    case 'contains':
      return (t) => {
        const v = get(t);
        if (typeof v === 'string') return typeof value === 'string' && v.includes(value);
        if (Array.isArray(v)) return v.some((element) => equal(element, value));
        return false;
      };
    case 'regex': {
      if (typeof value !== 'string') throw new ConditionError(`${field} regex: the value must be a pattern string`);
      let pattern: SafePattern;
      try {
        pattern = compileSafePattern(value, leaf.flags ?? '');
      } catch (error) {
        throw new ConditionError(`${field} regex ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)}: ${(error as Error).message}`);
      }
      return (t) => {
        const v = get(t);
        return typeof v === 'string' && pattern.test(v);
      };
    }
    case 'in': {
      if (!Array.isArray(value)) throw new ConditionError(`${field} in: the value must be an array`);
      const primitives = new Set(value.filter((element) => typeof element !== 'object' || element === null));
      return (t) => {
        const v = get(t);
        return primitives.has(v) || value.some((element) => typeof element === 'object' && equal(element, v));
      };
    }
    case 'exists': {
      const wanted = value === undefined ? true : value === true;
      return (t) => (get(t) !== undefined && get(t) !== null) === wanted;
    }
    default:
      throw new ConditionError(`unknown condition op "${String(op)}"`);
  }
}

/** Compiles a condition; throws ConditionError naming the problem (nesting is checked before any recursion). */
export function compileCondition(condition: Condition): CompiledCondition {
  const deep = tooDeepAt(condition, MAX_RULE_DEPTH);
  if (deep !== undefined) throw new ConditionError(`the condition nests deeper than ${MAX_RULE_DEPTH} levels (at ${deep})`);
  return compileNode(condition);
}

function compileNode(condition: Condition): CompiledCondition {
  if (typeof condition !== 'object' || condition === null) throw new ConditionError('a condition must be an object');
  if ('all' in condition) {
    const parts = condition.all.map(compileNode);
    return (t) => parts.every((part) => part(t));
  }
  if ('any' in condition) {
    const parts = condition.any.map(compileNode);
    return (t) => parts.some((part) => part(t));
  }
  if ('not' in condition) {
    const inner = compileNode(condition.not);
    return (t) => !inner(t);
  }
  return compileLeaf(condition);
}

/** JSON Schema of a condition, for ajv (the rule files embed it). */
export const conditionSchema = {
  $id: 'streamline-condition',
  oneOf: [
    {
      type: 'object',
      required: ['field', 'op'],
      additionalProperties: false,
      properties: {
        field: { type: 'string', minLength: 1 },
        op: { enum: ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'contains', 'regex', 'in', 'range', 'exists'] },
        value: {},
        flags: { type: 'string', pattern: '^[dgimsu]*$' },
      },
    },
    { type: 'object', required: ['all'], additionalProperties: false, properties: { all: { type: 'array', items: { $ref: 'streamline-condition' } } } },
    { type: 'object', required: ['any'], additionalProperties: false, properties: { any: { type: 'array', items: { $ref: 'streamline-condition' } } } },
    { type: 'object', required: ['not'], additionalProperties: false, properties: { not: { $ref: 'streamline-condition' } } },
  ],
} as const;

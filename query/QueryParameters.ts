import { isPlainIdentifier } from '../config/PlainIdentifier.js';
import { ClickHouseHttpError } from './ClickHouseErrors.js';
import type { Token } from './SqlTokens.js';

/**
 * ClickHouse's query parameters over HTTP: `{name:Type}` in the query, `param_name=value` in the
 * URL. A server parses the value in the type's "escaped" text form (what clients send:
 * @clickhouse/client escapes \ ' \t \n in strings) and binds the result as a typed literal.
 *
 * chDB has server-side binding too (queryBindAsync), but it escapes string values once more for
 * its own transport, so a value already in escaped form would arrive escaped twice. So the
 * values are substituted here, and only ever as a string literal the engine casts to the declared
 * type: `_CAST('<value>', 'Type')`. The literal is built by escaping, never by trusting the value,
 * so a hostile value can only fail to parse as its type (tested with quotes, backslashes,
 * comments and statement separators).
 */
export type ParamValues = ReadonlyMap<string, string>;

function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', '0': '\0', a: '\x07', v: '\v', e: '\x1b' };

/** The text a value in ClickHouse's escaped form stands for (readEscapedString). */
export function unescapeEscaped(value: string): string {
  return value.replace(/\\(x[0-9A-Fa-f]{2}|[\s\S])/g, (_match, seq: string) => {
    if (seq.length === 3 && seq[0] === 'x') return String.fromCharCode(parseInt(seq.slice(1), 16));
    return ESCAPES[seq] ?? seq;
  });
}

function isStringType(type: string): boolean {
  const inner = type.replace(/^(LowCardinality|Nullable)\((.*)\)$/, '$2').replace(/^(LowCardinality|Nullable)\((.*)\)$/, '$2');
  return /^(String|FixedString\(\s*\d+\s*\))$/.test(inner);
}

/** The SQL text that replaces `{name:Type}` for `value`. */
export function parameterSql(name: string, type: string, value: string): string {
  const cleanType = type.trim();
  if (cleanType === 'Identifier') {
    const parts = value.split('.');
    if (parts.length > 2 || !parts.every(isPlainIdentifier)) {
      throw new ClickHouseHttpError(457, 'BAD_QUERY_PARAMETER', `Value ${value} cannot be parsed as Identifier for query parameter '${name}'`);
    }
    return parts.map((part) => `\`${part}\``).join('.');
  }
  if (value === '\\N' && /Nullable\(/.test(cleanType)) return `_CAST(NULL, ${sqlString(cleanType)})`;
  const text = isStringType(cleanType) ? unescapeEscaped(value) : value;
  return `_CAST(${sqlString(text)}, ${sqlString(cleanType)})`;
}

/** The query text with every placeholder token replaced; unknown names fail as a server fails. */
export function substituteParameters(tokens: readonly Token[], values: ParamValues): string {
  return tokens
    .map((token) => {
      if (token.kind !== 'placeholder') return token.text;
      const inner = token.text.slice(1, -1);
      const colon = inner.indexOf(':');
      const name = inner.slice(0, colon).trim();
      const type = inner.slice(colon + 1).trim();
      const value = values.get(name);
      if (value === undefined) throw new ClickHouseHttpError(456, 'UNKNOWN_QUERY_PARAMETER', `Substitution \`${name}\` is not set`);
      return ` ${parameterSql(name, type, value)} `;
    })
    .join('');
}

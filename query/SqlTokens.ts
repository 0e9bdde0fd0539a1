import { ClickHouseHttpError } from './ClickHouseErrors.js';

/**
 * A lexer for ClickHouse SQL, just deep enough for the read-only guard and the parameter
 * substitution: it must never mistake the inside of a string literal, a quoted identifier or a
 * comment for a keyword (that is how guards are bypassed), and it must find `{name:Type}`
 * placeholders and a trailing FORMAT / SETTINGS clause at the top level.
 */
export type TokenKind = 'word' | 'quoted_identifier' | 'string' | 'number' | 'placeholder' | 'punct' | 'space' | 'comment';

export interface Token {
  kind: TokenKind;
  /** The token's exact text in the query. */
  text: string;
  /** Offset of the token's first character. */
  start: number;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;

function syntaxError(message: string): ClickHouseHttpError {
  return new ClickHouseHttpError(62, 'SYNTAX_ERROR', `Syntax error: ${message}`);
}

/** Index just past the closing `quote`, honouring backslash escapes and doubled quotes. */
function endOfQuoted(sql: string, from: number, quote: string): number {
  let i = from + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  throw syntaxError(`unterminated ${quote === "'" ? 'string literal' : 'quoted identifier'} at position ${from}`);
}

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const start = i;
    const c = sql[i]!;
    let kind: TokenKind;
    if (/\s/.test(c)) {
      while (i < sql.length && /\s/.test(sql[i]!)) i++;
      kind = 'space';
    } else if ((c === '-' && sql[i + 1] === '-') || c === '#') {
      while (i < sql.length && sql[i] !== '\n') i++;
      kind = 'comment';
    } else if (c === '/' && sql[i + 1] === '*') {
      // ClickHouse block comments nest.
      let depth = 0;
      do {
        if (sql.startsWith('/*', i)) {
          depth++;
          i += 2;
        } else if (sql.startsWith('*/', i)) {
          depth--;
          i += 2;
        } else if (i >= sql.length) {
          throw syntaxError(`unterminated comment at position ${start}`);
        } else i++;
      } while (depth > 0);
      kind = 'comment';
    } else if (c === "'") {
      i = endOfQuoted(sql, i, "'");
      kind = 'string';
    } else if (c === '`' || c === '"') {
      i = endOfQuoted(sql, i, c);
      kind = 'quoted_identifier';
    } else if (c === '$') {
      // Heredoc string: $tag$ ... $tag$
      const tag = /^\$[A-Za-z0-9_]*\$/.exec(sql.slice(i))?.[0];
      if (!tag) throw syntaxError(`unexpected "$" at position ${i}`);
      const end = sql.indexOf(tag, i + tag.length);
      if (end < 0) throw syntaxError(`unterminated heredoc at position ${i}`);
      i = end + tag.length;
      kind = 'string';
    } else if (c === '{') {
      // A query parameter {name:Type}; the type may hold quotes and parentheses.
      const match = /^\{\s*[A-Za-z_][A-Za-z0-9_]*\s*:/.exec(sql.slice(i));
      if (!match) {
        i++;
        kind = 'punct';
      } else {
        i += match[0].length;
        while (i < sql.length && sql[i] !== '}') i = sql[i] === "'" ? endOfQuoted(sql, i, "'") : i + 1;
        if (i >= sql.length) throw syntaxError(`unterminated query parameter at position ${start}`);
        i++;
        kind = 'placeholder';
      }
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      while (i < sql.length && /[0-9A-Za-z_.]/.test(sql[i]!)) {
        if ((sql[i] === 'e' || sql[i] === 'E') && (sql[i + 1] === '+' || sql[i + 1] === '-')) i++;
        i++;
      }
      kind = 'number';
    } else if (WORD_START.test(c)) {
      while (i < sql.length && WORD_PART.test(sql[i]!)) i++;
      kind = 'word';
    } else {
      i++;
      kind = 'punct';
    }
    tokens.push({ kind, text: sql.slice(start, i), start });
  }
  return tokens;
}

/** Tokens that carry meaning (no whitespace, no comments). */
export function significant(tokens: readonly Token[]): Token[] {
  return tokens.filter((token) => token.kind !== 'space' && token.kind !== 'comment');
}

/** An identifier's name: a word as written, a quoted identifier unquoted. */
export function identifierName(token: Token): string | undefined {
  if (token.kind === 'word') return token.text;
  if (token.kind === 'quoted_identifier') return token.text.slice(1, -1).replace(/\\(.)/g, '$1');
  return undefined;
}

export function isKeyword(token: Token | undefined, word: string): boolean {
  return token !== undefined && token.kind === 'word' && token.text.toUpperCase() === word;
}

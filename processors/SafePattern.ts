import { RE2JS } from 're2js';
import { NamedError } from '../errors/NamedError.js';

/**
 * Regular expressions from users (filter and routing rule conditions, DLQ replay's reason) run on
 * RE2 (re2js, pure JS): matching is linear in the subject, so no pattern can stall the event
 * loop the way `^(a+)+$` does on a backtracking engine (29 a's + "!" froze the process 17 s).
 * RE2 has no backreferences or lookaround; such patterns are refused when the rule is submitted,
 * not when an event arrives.
 */

/** Longest pattern accepted: RE2 programs grow with the pattern; no sensible rule needs more. */
export const MAX_PATTERN_CHARS = 1000;

/**
 * Longest subject matched: a longer string is matched on its first MAX_SUBJECT_CHARS characters
 * (so a long user agent still matches a `bot` rule at its start). Linear time makes this a bound
 * on cost per event (~0.1 ms per KiB), not a defence against blow-up.
 */
export const MAX_SUBJECT_CHARS = 8192;

/** JavaScript flags accepted: i, m, s map to RE2's; u is RE2's default; g and d change nothing for a test. */
const FLAG_BITS: Record<string, number> = { i: RE2JS.CASE_INSENSITIVE, m: RE2JS.MULTILINE, s: RE2JS.DOTALL, u: 0, g: 0, d: 0 };

export class PatternError extends NamedError {}

export interface SafePattern {
  readonly source: string;
  /** True when the pattern matches anywhere in the subject (its first MAX_SUBJECT_CHARS characters). */
  test(subject: string): boolean;
}

/** Compiles a user's pattern with RE2; throws PatternError naming what RE2 refuses. */
export function compileSafePattern(source: string, flags = ''): SafePattern {
  if (source.length > MAX_PATTERN_CHARS) throw new PatternError(`the pattern is ${source.length} characters long; at most ${MAX_PATTERN_CHARS}`);
  let bits = 0;
  for (const flag of flags) {
    const bit = FLAG_BITS[flag];
    if (bit === undefined) throw new PatternError(`flag "${flag}" is not supported (use i, m, s, u)`);
    bits |= bit;
  }
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(source, bits);
  } catch (error) {
    const message = (error as Error).message.replace(/^error parsing regexp: /, '');
    throw new PatternError(`${message} (patterns run on RE2: no backreferences or lookaround, repeat counts up to 1000)`);
  }
  return {
    source,
    test: (subject) => compiled.test(subject.length > MAX_SUBJECT_CHARS ? subject.slice(0, MAX_SUBJECT_CHARS) : subject),
  };
}

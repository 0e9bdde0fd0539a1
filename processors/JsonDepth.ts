/**
 * Nesting depth of parsed JSON, measured without recursion: ajv, the condition compiler and
 * JSON.stringify recurse, so a 20k-deep body overflows the stack (a 500) unless refused first.
 */
export const MAX_RULE_DEPTH = 64;

/**
 * The JSON-pointer-like path of the first value nested deeper than maxDepth (containers count a
 * level each), or undefined when the value is within it.
 */
export function tooDeepAt(value: unknown, maxDepth: number): string | undefined {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value, depth: 0, path: '' }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (item.value === null || typeof item.value !== 'object') continue;
    if (item.depth >= maxDepth) return item.path || '/';
    const entries = Array.isArray(item.value) ? item.value.map((v, i) => [String(i), v] as const) : Object.entries(item.value);
    for (const [key, child] of entries) {
      if (child !== null && typeof child === 'object') stack.push({ value: child, depth: item.depth + 1, path: childPath(item.path, key) });
    }
  }
  return undefined;
}

/** Paths stop growing past 200 characters (a 20k-deep path would be the size of the body). */
function childPath(parent: string, key: string): string {
  if (parent.length < 200) return `${parent}/${key}`;
  return parent.endsWith('/…') ? parent : `${parent}/…`;
}

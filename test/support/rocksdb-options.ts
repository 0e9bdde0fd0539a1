import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The column families' options as RocksDB wrote them in the newest OPTIONS-<n> file of a database
 * directory: what the database runs with, whatever the binding's defaults were.
 */
export function rocksdbColumnOptions(dir: string): Map<string, Map<string, string>> {
  const newest = readdirSync(dir)
    .filter((name) => /^OPTIONS-\d+$/.test(name))
    .sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)))
    .pop();
  if (newest === undefined) throw new Error(`no OPTIONS file in ${dir}`);
  const columns = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const line of readFileSync(join(dir, newest), 'utf8').split('\n')) {
    const section = /^\[CFOptions "(.*)"\]$/.exec(line.trim());
    if (section) columns.set(section[1]!, (current = new Map()));
    else if (line.trim().startsWith('[')) current = undefined;
    else if (current && line.includes('=')) {
      const at = line.indexOf('=');
      current.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
    }
  }
  return columns;
}

/** One setting of a RocksDB option struct's text, e.g. structField('{a=1;b=2;}', 'b') = '2'. */
export function structField(struct: string, field: string): string | undefined {
  return new RegExp(`[{;]${field}=([^;}]*)`).exec(struct)?.[1];
}

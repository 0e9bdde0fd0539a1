import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * `protoc --decode` (Debian's protobuf-compiler: a decoder nobody here wrote) and a reader of
 * its text format, so tests compare Protobuf output with its JSON twin field by field.
 */
const PROTO_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../proto');

export function protocDecode(message: string, bytes: Buffer, file = 'streamline/v1/enriched.proto'): string {
  return execFileSync('protoc', [`--decode=${message}`, '-I', PROTO_DIR, '-I', '/usr/include', file], { input: bytes }).toString('utf8');
}

/** A text-format message: every field name to the list of its occurrences (scalars as text, messages as nodes). */
export interface TextNode {
  [field: string]: Array<string | TextNode>;
}

function unquote(raw: string): string {
  // protoc escapes non-printable bytes in octal and quotes with \" and \\.
  const bytes: number[] = [];
  for (let i = 1; i < raw.length - 1; i++) {
    const c = raw[i]!;
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const next = raw[++i]!;
    if (/[0-7]/.test(next)) {
      const octal = raw.slice(i, i + 3);
      bytes.push(parseInt(octal, 8));
      i += 2;
    } else bytes.push(({ n: 10, t: 9, r: 13 } as Record<string, number>)[next] ?? next.charCodeAt(0));
  }
  return Buffer.from(bytes).toString('utf8');
}

export function parseTextFormat(text: string): TextNode {
  const root: TextNode = {};
  const stack: TextNode[] = [root];
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line.length === 0) continue;
    const top = stack[stack.length - 1]!;
    if (line === '}') {
      stack.pop();
      continue;
    }
    const open = /^(\w+) \{$/.exec(line);
    if (open) {
      const child: TextNode = {};
      (top[open[1]!] ??= []).push(child);
      stack.push(child);
      continue;
    }
    const scalar = /^(\w+): (.*)$/.exec(line);
    if (!scalar) throw new Error(`unexpected protoc output line: ${line}`);
    const value = scalar[2]!.startsWith('"') ? unquote(scalar[2]!) : scalar[2]!;
    (top[scalar[1]!] ??= []).push(value);
  }
  return root;
}

/** A google.protobuf.Value / Struct / ListValue node as the JSON it holds. */
export function valueJson(node: TextNode): unknown {
  if (node.string_value) return node.string_value[0];
  if (node.number_value) return Number(node.number_value[0]);
  if (node.bool_value) return node.bool_value[0] === 'true';
  if (node.struct_value) return structJson(node.struct_value[0] as TextNode);
  if (node.list_value) return ((node.list_value[0] as TextNode).values ?? []).map((v) => valueJson(v as TextNode));
  return null;
}

export function structJson(node: TextNode | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const entry of (node?.fields ?? []) as TextNode[]) out[entry.key![0] as string] = valueJson((entry.value?.[0] ?? {}) as TextNode);
  return out;
}

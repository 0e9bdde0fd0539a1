import type { OutputRecord } from './runs.js';

/** How one run's outputs compare, per dimension; details name the first difference of each. */
export interface Agreement {
  /** Same records (key and value) as a multiset, per topic. */
  values: boolean;
  /** Same records in the same order, per topic. */
  order: boolean;
  /** Same records, order and timestamps, per topic. */
  timestamps: boolean;
  details: string[];
}

/** JSON with sorted object keys: {"a":1,"b":2} and {"b":2,"a":1} are the same value. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

const text = (r: OutputRecord) => `${r.key === null ? '∅' : r.key}=${canonical(r.value)}`;
const withTime = (r: OutputRecord) => `${text(r)}@${r.timestamp}`;

function multisetDifference(expected: string[], actual: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const e of expected) counts.set(e, (counts.get(e) ?? 0) + 1);
  for (const a of actual) counts.set(a, (counts.get(a) ?? 0) - 1);
  for (const [record, count] of counts) {
    if (count > 0) return `missing ${record}${count > 1 ? ` (x${count})` : ''}`;
    if (count < 0) return `unexpected ${record}${count < -1 ? ` (x${-count})` : ''}`;
  }
  return undefined;
}

function firstMismatch(expected: string[], actual: string[]): string | undefined {
  const length = Math.max(expected.length, actual.length);
  for (let i = 0; i < length; i++) {
    if (expected[i] !== actual[i]) return `#${i}: Kafka Streams ${expected[i] ?? '(none)'}, ours ${actual[i] ?? '(none)'}`;
  }
  return undefined;
}

/** Compares our outputs with Kafka Streams' (expected), topic by topic. */
export function compareOutputs(expected: Record<string, OutputRecord[]>, actual: Record<string, OutputRecord[]>): Agreement {
  const agreement: Agreement = { values: true, order: true, timestamps: true, details: [] };
  const topics = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  for (const topic of topics) {
    const e = expected[topic] ?? [];
    const a = actual[topic] ?? [];
    const values = multisetDifference(e.map(text), a.map(text));
    const order = firstMismatch(e.map(text), a.map(text));
    const times = firstMismatch(e.map(withTime), a.map(withTime));
    if (values) {
      agreement.values = false;
      agreement.details.push(`${topic} values: ${values}`);
    }
    if (order) {
      agreement.order = false;
      if (!values) agreement.details.push(`${topic} order: ${order}`);
    }
    if (times) {
      agreement.timestamps = false;
      if (!order) agreement.details.push(`${topic} timestamps: ${times}`);
    }
  }
  return agreement;
}

export type Tamper = 'change a value' | 'drop a record' | 'add a record' | 'swap two records' | 'move a timestamp';

/** What the differ must report for each tampering: the dimension that breaks, and those that must not. */
export const TAMPERINGS: Array<{ tamper: Tamper; breaks: Array<keyof Omit<Agreement, 'details'>>; keeps: Array<keyof Omit<Agreement, 'details'>> }> = [
  { tamper: 'change a value', breaks: ['values', 'order', 'timestamps'], keeps: [] },
  { tamper: 'drop a record', breaks: ['values', 'order', 'timestamps'], keeps: [] },
  { tamper: 'add a record', breaks: ['values', 'order', 'timestamps'], keeps: [] },
  { tamper: 'swap two records', breaks: ['order', 'timestamps'], keeps: ['values'] },
  { tamper: 'move a timestamp', breaks: ['timestamps'], keeps: ['values', 'order'] },
];

/**
 * A copy of Kafka Streams' outputs with one change; undefined when the outputs give it nothing
 * to work on (swap needs two records that differ).
 */
export function tamper(outputs: Record<string, OutputRecord[]>, how: Tamper): Record<string, OutputRecord[]> | undefined {
  const copy: Record<string, OutputRecord[]> = Object.fromEntries(Object.entries(outputs).map(([t, rs]) => [t, rs.map((r) => ({ ...r }))]));
  const topic = Object.keys(copy).find((t) => copy[t]!.length >= 2);
  if (!topic) return undefined;
  const records = copy[topic]!;
  const middle = Math.floor(records.length / 2);
  switch (how) {
    case 'change a value':
      records[middle] = { ...records[middle]!, value: { tampered: records[middle]!.value } };
      return copy;
    case 'drop a record':
      records.splice(middle, 1);
      return copy;
    case 'add a record':
      records.splice(middle, 0, { ...records[middle]! });
      return copy;
    case 'swap two records': {
      const other = records.findIndex((r, i) => i > middle && text(r) !== text(records[middle]!));
      const before = records.findIndex((r) => text(r) !== text(records[middle]!));
      const j = other >= 0 ? other : before;
      if (j < 0) return undefined;
      [records[middle], records[j]] = [records[j]!, records[middle]!];
      return copy;
    }
    case 'move a timestamp':
      records[middle] = { ...records[middle]!, timestamp: records[middle]!.timestamp + 1 };
      return copy;
  }
}

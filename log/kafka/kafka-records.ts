import type { fetchV17 } from '@platformatic/kafka';
import type { LogRecord, RecordHeaders } from '../Log.js';

/** Kafka record-batch attribute bit of transaction markers (commit/abort control batches). */
const CONTROL_BATCH = 0b10_0000;

export function headersToKafka(headers: RecordHeaders | undefined): Map<Buffer, Buffer> | undefined {
  if (!headers) return undefined;
  const out = new Map<Buffer, Buffer>();
  for (const [name, value] of Object.entries(headers)) out.set(Buffer.from(name), Buffer.from(value));
  return out;
}

function headersFromKafka(headers: [Buffer | null, Buffer | null][]): RecordHeaders {
  const out: RecordHeaders = {};
  for (const [name, value] of headers) {
    if (name) out[name.toString()] = value ? value.toString() : '';
  }
  return out;
}

export interface DecodedPartition {
  records: LogRecord[];
  /** Offset to fetch next: past every batch seen, control and aborted ones included. */
  nextOffset: number;
}

/**
 * Turns one partition of a Fetch response into records at or after fromOffset. Batches can start
 * before the requested offset (the broker returns whole batches), and control batches
 * (transaction markers) take offsets but are not records. Aborted batches were already dropped
 * by the client under read_committed; the marker after them moves nextOffset past them.
 */
export function decodeFetchedPartition(topic: string, response: fetchV17.FetchResponsePartition, fromOffset: number): DecodedPartition {
  const records: LogRecord[] = [];
  let nextOffset = fromOffset;
  for (const batch of response.records ?? []) {
    const firstOffset = Number(batch.firstOffset);
    const batchEnd = firstOffset + batch.lastOffsetDelta + 1;
    if (batchEnd > nextOffset) nextOffset = batchEnd;
    if (batch.attributes & CONTROL_BATCH) continue;
    for (const record of batch.records) {
      const offset = firstOffset + record.offsetDelta;
      if (offset < fromOffset) continue;
      records.push({
        topic,
        partition: response.partitionIndex,
        offset,
        key: record.key ?? null,
        value: record.value ?? null,
        headers: headersFromKafka(record.headers),
        timestamp: Number(batch.firstTimestamp + record.timestampDelta),
      });
    }
  }
  return { records, nextOffset };
}

interface FindableError {
  findBy?: (property: string, value: unknown) => unknown;
}

/** True when the client error carries the Kafka protocol error with this id (e.g. 'REBALANCE_IN_PROGRESS'). */
export function hasKafkaError(error: unknown, id: string): boolean {
  return Boolean((error as FindableError | undefined)?.findBy?.('apiId', id));
}

/** The Kafka protocol error ids inside a client error (e.g. ["PRODUCER_FENCED"]). */
export function kafkaErrorIds(error: unknown): string[] {
  const ids = new Set<string>();
  const visit = (e: unknown, depth: number) => {
    if (!e || typeof e !== 'object' || depth > 5) return;
    const apiId = (e as { apiId?: unknown }).apiId;
    if (typeof apiId === 'string') ids.add(apiId);
    for (const inner of (e as { errors?: unknown[] }).errors ?? []) visit(inner, depth + 1);
    visit((e as { cause?: unknown }).cause, depth + 1);
  };
  visit(error, 0);
  return [...ids];
}

/** The client's message plus the protocol error ids it wraps, which its message leaves out. */
export function explainKafkaError(what: string, error: unknown): Error {
  const ids = kafkaErrorIds(error);
  const message = `${what}: ${(error as Error)?.message ?? String(error)}${ids.length > 0 ? ` [${ids.join(', ')}]` : ''}`;
  return new Error(message, { cause: error });
}

/** Rejects with a clear error when the promise does not settle in time (the work itself goes on). */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not complete within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** close(true) of a client whose typings return void for the force overload. */
export function closeForcefully(client: { close(force: boolean, callback: (error?: Error | null) => void): void }): Promise<void> {
  return new Promise((resolve, reject) => client.close(true, (error) => (error ? reject(error) : resolve())));
}

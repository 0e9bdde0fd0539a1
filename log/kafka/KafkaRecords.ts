import type { fetchV17 } from '@platformatic/kafka';
import type { LogRecord, RecordHeaders } from '../Log.js';

/** Kafka record-batch attribute bits: transactional batches and transaction markers. */
const TRANSACTIONAL_BATCH = 0b1_0000;
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
 * (transaction markers) take offsets but are not records.
 *
 * Aborted transactions are skipped the way Kafka's Java consumer does it: the response lists the
 * producers with aborted transactions and where each began; a transactional batch of such a
 * producer is dropped until that producer's abort marker. (The client filters aborted batches
 * only when the marker is in the same response, and otherwise returns them as if committed.)
 */
export function decodeFetchedPartition(topic: string, response: fetchV17.FetchResponsePartition, fromOffset: number): DecodedPartition {
  const records: LogRecord[] = [];
  let nextOffset = fromOffset;
  const pendingAborts = [...(response.abortedTransactions ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1));
  const abortedProducers = new Set<bigint>();
  for (const batch of response.records ?? []) {
    const firstOffset = Number(batch.firstOffset);
    const batchEnd = firstOffset + batch.lastOffsetDelta + 1;
    if (batchEnd > nextOffset) nextOffset = batchEnd;
    while (pendingAborts.length > 0 && pendingAborts[0]!.firstOffset <= batch.firstOffset + BigInt(batch.lastOffsetDelta)) {
      abortedProducers.add(pendingAborts.shift()!.producerId);
    }
    if (batch.attributes & CONTROL_BATCH) {
      // Control record key: version (int16), type (int16: 0 abort, 1 commit).
      const key = batch.records[0]?.key;
      if (key && key.length >= 4 && key.readInt16BE(2) === 0) abortedProducers.delete(batch.producerId);
      continue;
    }
    if (batch.attributes & TRANSACTIONAL_BATCH && abortedProducers.has(batch.producerId)) continue;
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

/**
 * Kafka refuses a record batch over the broker's message.max.bytes (1 MiB by default), and the
 * client puts everything one send() has for a partition into one batch. Sends are therefore cut
 * so that no partition gets more than maxBytes (uncompressed estimate) per send; order within a
 * partition is kept because the chunks are sent one after another.
 */
export const MAX_SEND_BYTES_PER_PARTITION = 512 * 1024;

export function splitForSend<M extends { topic: string; partition: number; key?: Buffer; value?: Buffer; headers?: Map<Buffer, Buffer> }>(
  messages: M[],
  maxBytes = MAX_SEND_BYTES_PER_PARTITION,
): M[][] {
  const chunks: M[][] = [];
  let current: M[] = [];
  let sizes = new Map<string, number>();
  for (const message of messages) {
    let size = 24 + (message.key?.length ?? 0) + (message.value?.length ?? 0);
    for (const [name, value] of message.headers ?? []) size += 8 + name.length + value.length;
    const key = `${message.topic}:${message.partition}`;
    const used = sizes.get(key) ?? 0;
    if (used > 0 && used + size > maxBytes) {
      chunks.push(current);
      current = [];
      sizes = new Map();
    }
    current.push(message);
    sizes.set(key, (sizes.get(key) ?? 0) + size);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

import type { LogRecord, ProducerRecord, RecordHeaders, RecordMetadata } from '../Log.js';

/**
 * Records cross a MessagePort packed into ONE ArrayBuffer that is transferred, not cloned: a
 * Float64Array index (5 numbers per record) followed by every key and value back to back.
 * Structured cloning an array of Buffers instead copies each Buffer's whole backing store (a
 * Buffer from the 8 KiB pool, or a value sliced from a RocksDB batch, drags its neighbours along)
 * and hands back plain Uint8Arrays; bench/remote-log.ts compares the two (BENCHMARKS.md).
 * Topics (few, repeated) travel as a small string table, headers as plain objects.
 */
export interface PackedRecords {
  count: number;
  /** [partition, offset, timestamp, keyLength, valueLength] per record, then the bytes. */
  buffer: ArrayBuffer;
  topics: string[];
  /** Index into topics per record; omitted when every record has topics[0]. */
  topicIndex?: Uint16Array | number[];
  /** Per record, null when it has none; omitted when no record has headers. */
  headers?: (RecordHeaders | null)[];
}

const FIELDS = 5;
const ABSENT = -1;

/**
 * The same checks (and messages) as EmbeddedLog.resolveRecords, made by the client before
 * packing: a string key would otherwise be packed as garbage, and the error belongs to the call
 * that made it.
 */
export function checkRecordTypes(records: readonly ProducerRecord[]): void {
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (r.key != null && !(r.key instanceof Uint8Array)) throw new TypeError(`record ${i}: key must be a Buffer or null`);
    if (r.value != null && !(r.value instanceof Uint8Array)) throw new TypeError(`record ${i}: value must be a Buffer or null`);
  }
}

type Packable = Pick<ProducerRecord, 'topic' | 'key' | 'value' | 'headers' | 'timestamp' | 'partition'> & { offset?: number };

export function packRecords(records: readonly Packable[]): PackedRecords {
  const count = records.length;
  let bytes = 0;
  let withHeaders = false;
  for (let i = 0; i < count; i++) {
    const r = records[i];
    if (r.key) bytes += r.key.byteLength;
    if (r.value) bytes += r.value.byteLength;
    if (r.headers !== undefined && !withHeaders && Object.keys(r.headers).length > 0) withHeaders = true;
  }
  const indexBytes = count * FIELDS * 8;
  const buffer = new ArrayBuffer(indexBytes + bytes);
  const index = new Float64Array(buffer, 0, count * FIELDS);
  const body = new Uint8Array(buffer, indexBytes);
  const topics: string[] = [];
  const topicIds = new Map<string, number>();
  let topicIndex: number[] | undefined;
  const headers: (RecordHeaders | null)[] | undefined = withHeaders ? new Array(count) : undefined;
  let at = 0;
  for (let i = 0; i < count; i++) {
    const r = records[i];
    let topicId = topicIds.get(r.topic);
    if (topicId === undefined) {
      topicId = topics.length;
      topics.push(r.topic);
      topicIds.set(r.topic, topicId);
    }
    if (topicId !== 0 && topicIndex === undefined) topicIndex = new Array<number>(count).fill(0);
    if (topicIndex !== undefined) topicIndex[i] = topicId;
    const base = i * FIELDS;
    index[base] = r.partition ?? NaN;
    index[base + 1] = r.offset ?? NaN;
    index[base + 2] = r.timestamp ?? NaN;
    index[base + 3] = copyInto(body, at, r.key ?? null);
    if (r.key) at += r.key.byteLength;
    index[base + 4] = copyInto(body, at, r.value ?? null);
    if (r.value) at += r.value.byteLength;
    if (headers) headers[i] = r.headers && Object.keys(r.headers).length > 0 ? r.headers : null;
  }
  const packed: PackedRecords = { count, buffer, topics };
  if (topicIndex) packed.topicIndex = topics.length <= 0xffff ? Uint16Array.from(topicIndex) : topicIndex;
  if (headers) packed.headers = headers;
  return packed;
}

function copyInto(body: Uint8Array, at: number, bytes: Uint8Array | null): number {
  if (bytes === null) return ABSENT;
  body.set(bytes, at);
  return bytes.byteLength;
}

/** The ArrayBuffers to list in postMessage's transfer list. */
export function transferablesOf(packed: PackedRecords): ArrayBuffer[] {
  const out = [packed.buffer];
  if (packed.topicIndex instanceof Uint16Array) out.push(packed.topicIndex.buffer as ArrayBuffer);
  return out;
}

interface Unpacked {
  topic: string;
  partition: number | undefined;
  offset: number | undefined;
  timestamp: number | undefined;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeaders | undefined;
}

function unpack<T>(packed: PackedRecords, build: (u: Unpacked) => T): T[] {
  const { count, buffer, topics, topicIndex, headers } = packed;
  const indexBytes = count * FIELDS * 8;
  const index = new Float64Array(buffer, 0, count * FIELDS);
  const out: T[] = new Array(count);
  let at = indexBytes;
  for (let i = 0; i < count; i++) {
    const base = i * FIELDS;
    const keyLength = index[base + 3];
    const valueLength = index[base + 4];
    // Views on the one transferred buffer: no copy per record.
    const key = keyLength === ABSENT ? null : Buffer.from(buffer, at, keyLength);
    if (keyLength !== ABSENT) at += keyLength;
    const value = valueLength === ABSENT ? null : Buffer.from(buffer, at, valueLength);
    if (valueLength !== ABSENT) at += valueLength;
    out[i] = build({
      topic: topics[topicIndex ? topicIndex[i] : 0],
      partition: numberOrUndefined(index[base]),
      offset: numberOrUndefined(index[base + 1]),
      timestamp: numberOrUndefined(index[base + 2]),
      key,
      value,
      headers: headers?.[i] ?? undefined,
    });
  }
  return out;
}

function numberOrUndefined(n: number): number | undefined {
  return Number.isNaN(n) ? undefined : n;
}

export function unpackProducerRecords(packed: PackedRecords): ProducerRecord[] {
  return unpack(packed, (u) => {
    const r: ProducerRecord = { topic: u.topic, key: u.key, value: u.value };
    if (u.headers !== undefined) r.headers = u.headers;
    if (u.timestamp !== undefined) r.timestamp = u.timestamp;
    if (u.partition !== undefined) r.partition = u.partition;
    return r;
  });
}

export function unpackLogRecords(packed: PackedRecords): LogRecord[] {
  return unpack(packed, (u) => ({
    topic: u.topic,
    partition: u.partition!,
    offset: u.offset!,
    key: u.key,
    value: u.value,
    headers: u.headers ?? {},
    timestamp: u.timestamp!,
  }));
}

/** Produce results as a [partition, offset] pair per record; topics as a table, like records. */
export interface PackedMetadata {
  topics: string[];
  topicIndex?: number[];
  positions: Float64Array;
}

export function packMetadata(metadata: readonly RecordMetadata[]): PackedMetadata {
  const positions = new Float64Array(metadata.length * 2);
  const topics: string[] = [];
  const topicIds = new Map<string, number>();
  let topicIndex: number[] | undefined;
  for (let i = 0; i < metadata.length; i++) {
    const m = metadata[i];
    let topicId = topicIds.get(m.topic);
    if (topicId === undefined) {
      topicId = topics.length;
      topics.push(m.topic);
      topicIds.set(m.topic, topicId);
    }
    if (topicId !== 0 && topicIndex === undefined) topicIndex = new Array<number>(metadata.length).fill(0);
    if (topicIndex !== undefined) topicIndex[i] = topicId;
    positions[i * 2] = m.partition;
    positions[i * 2 + 1] = m.offset;
  }
  return topicIndex ? { topics, topicIndex, positions } : { topics, positions };
}

export function unpackMetadata(packed: PackedMetadata): RecordMetadata[] {
  const { topics, topicIndex, positions } = packed;
  const out: RecordMetadata[] = new Array(positions.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = { topic: topics[topicIndex ? topicIndex[i] : 0], partition: positions[i * 2], offset: positions[i * 2 + 1] };
  }
  return out;
}

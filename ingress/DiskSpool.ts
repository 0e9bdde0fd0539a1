import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ProducerRecord } from '../log/Log.js';
import { ENTRY_HEADER_BYTES, ENTRY_MAGIC, decodePayload, encodeEntry, validEntryAt } from './SpoolCodec.js';
import { NamedError } from '../errors/NamedError.js';

export class SpoolFullError extends NamedError {
  constructor(readonly maxBytes: number) {
    super(`disk spool is full (${maxBytes} bytes)`);
  }
}

/**
 * The spool's filesystem has no room (ENOSPC, EDQUOT) before MAX_BUFFER_SIZE_MB is reached: the
 * same answer to clients as a full spool (503 + Retry-After), and the next append tries the
 * disk again, so the spool works again as soon as space returns.
 */
export class SpoolDiskFullError extends SpoolFullError {
  constructor(
    maxBytes: number,
    readonly code: string,
  ) {
    super(maxBytes);
    this.message = `the disk spool's filesystem is full (${code})`;
  }
}

const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

export interface DiskSpoolOptions {
  dir: string;
  maxBytes: number;
  segmentBytes: number;
  logger?: Logger;
}

interface EntryLocation {
  segment: number;
  /** Byte offset of the entry header in its segment. */
  offset: number;
  /** Payload length. */
  length: number;
  records: number;
  /** See append(): the outcome of a timed-out produce of these same records (memory only). */
  landed?: Promise<boolean>;
}

interface PendingAppend {
  entry: Buffer;
  records: number;
  landed: Promise<boolean> | undefined;
  resolve: () => void;
  reject: (error: Error) => void;
}

export interface RecoveryReport {
  entries: number;
  records: number;
  corruptEntries: number;
  skippedBytes: number;
}

const SEGMENT_RE = /^segment-(\d{12})\.spool$/;
const CURSOR_FILE = 'cursor.json';

/**
 * Where accepted events wait while the log is unavailable. Append-only segment files of
 * checksummed entries (SpoolCodec); an append resolves only after fdatasync, so a 2xx answered
 * for a spooled event survives a crash. Entries are read back oldest first, and a cursor file
 * records how far draining got. Recovery validates every entry: a torn or corrupt one is
 * skipped up to the next valid entry, and appends always start a fresh segment so nothing is
 * ever written after a damaged tail.
 */
export class DiskSpool {
  private readonly queue: EntryLocation[] = [];
  private queueHead = 0;
  private pendingBytes = 0;
  private reservedBytes = 0;
  private pendingRecords = 0;
  private activeSegment = 0;
  private activeHandle: fsp.FileHandle | null = null;
  private activeSize = 0;
  private appendQueue: PendingAppend[] = [];
  private flushing: Promise<void> | null = null;
  private readonly readHandles = new Map<number, fsp.FileHandle>();
  private closed = false;
  recovery: RecoveryReport = { entries: 0, records: 0, corruptEntries: 0, skippedBytes: 0 };

  private constructor(private readonly options: DiskSpoolOptions) {}

  static async open(options: DiskSpoolOptions): Promise<DiskSpool> {
    const spool = new DiskSpool(options);
    await fsp.mkdir(options.dir, { recursive: true });
    await spool.recover();
    return spool;
  }

  /** Bytes of entries not yet drained (what MAX_BUFFER_SIZE_MB bounds). */
  get bytes(): number {
    return this.pendingBytes + this.reservedBytes;
  }

  /** Records not yet drained. */
  get records(): number {
    return this.pendingRecords;
  }

  /** Entries (group commits) not yet drained. */
  get entries(): number {
    return this.queue.length - this.queueHead;
  }

  /** True when nothing is stored and nothing is being appended. */
  isEmpty(): boolean {
    return this.entries === 0 && this.appendQueue.length === 0 && this.flushing === null;
  }

  get maxBytes(): number {
    return this.options.maxBytes;
  }

  /**
   * Resolves once the records are fsynced; rejects with SpoolFullError when they do not fit.
   * `landed`: these records were given to the log by a produce that timed out but may still land;
   * resolves true when it did (kept in memory with the entry, for the drainer; not on disk, so a
   * restart forgets it).
   */
  append(records: ProducerRecord[], landed?: Promise<boolean>): Promise<void> {
    if (this.closed) return Promise.reject(new Error('disk spool is closed'));
    const entry = encodeEntry(records, Date.now());
    if (this.bytes + entry.length > this.options.maxBytes) return Promise.reject(new SpoolFullError(this.options.maxBytes));
    this.reservedBytes += entry.length;
    return new Promise<void>((resolve, reject) => {
      this.appendQueue.push({ entry, records: records.length, landed, resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  /** Waits for appends in progress to be durable. */
  async whenFlushed(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /**
   * The oldest entries, up to about maxRecords records (at least one entry), in append order.
   * An entry whose records a timed-out produce may have landed (append's `landed`) comes alone,
   * with that outcome, so the drainer can decide on it before sending anything behind it.
   */
  async peek(maxRecords: number): Promise<{ records: ProducerRecord[]; entries: number; landed?: Promise<boolean> }> {
    const records: ProducerRecord[] = [];
    let entries = 0;
    const head = this.queue[this.queueHead];
    if (head?.landed) {
      for (const record of decodePayload(await this.readPayload(head))) records.push(record);
      return { records, entries: 1, landed: head.landed };
    }
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const location = this.queue[i]!;
      if (entries > 0 && (location.landed || records.length + location.records > maxRecords)) break;
      const payload = await this.readPayload(location);
      for (const record of decodePayload(payload)) records.push(record);
      entries++;
    }
    return { records, entries };
  }

  /** The oldest entry's records were not landed by their timed-out produce: it drains as any other. */
  forgetLanded(): void {
    const head = this.queue[this.queueHead];
    if (head) delete head.landed;
  }

  /** Marks the oldest `entries` entries as drained; deletes segments nothing points into any more. */
  async ack(entries: number): Promise<void> {
    if (entries <= 0) return;
    let last: EntryLocation | undefined;
    for (let i = 0; i < entries && this.queueHead < this.queue.length; i++) {
      last = this.queue[this.queueHead++]!;
      this.pendingBytes -= ENTRY_HEADER_BYTES + last.length;
      this.pendingRecords -= last.records;
    }
    if (!last) return;
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    const cursor = { segment: last.segment, offset: last.offset + ENTRY_HEADER_BYTES + last.length };
    const tmp = path.join(this.options.dir, CURSOR_FILE + '.tmp');
    await fsp.writeFile(tmp, JSON.stringify(cursor));
    await fsp.rename(tmp, path.join(this.options.dir, CURSOR_FILE));
    const oldestNeeded = this.queueHead < this.queue.length ? this.queue[this.queueHead]!.segment : this.activeSegment;
    for (const segment of await this.segmentNumbers()) {
      if (segment < oldestNeeded && segment !== this.activeSegment) await this.deleteSegment(segment);
    }
  }

  async close(): Promise<void> {
    await this.whenFlushed();
    this.closed = true;
    await this.activeHandle?.close();
    this.activeHandle = null;
    for (const handle of this.readHandles.values()) await handle.close();
    this.readHandles.clear();
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.appendQueue.length > 0) {
        const batch = this.appendQueue;
        this.appendQueue = [];
        try {
          await this.writeBatch(batch);
          for (const item of batch) item.resolve();
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          const answer = code !== undefined && DISK_FULL_CODES.has(code) ? new SpoolDiskFullError(this.options.maxBytes, code) : (error as Error);
          this.options.logger?.warn({ err: error, dir: this.options.dir }, 'disk spool: append failed');
          for (const item of batch) {
            this.reservedBytes -= item.entry.length;
            item.reject(answer);
          }
        }
      }
    } finally {
      this.flushing = null;
    }
  }

  /** One write and one fdatasync for every append queued meanwhile (group commit). */
  private async writeBatch(batch: PendingAppend[]): Promise<void> {
    if (!this.activeHandle || this.activeSize >= this.options.segmentBytes) await this.rollSegment();
    const handle = this.activeHandle!;
    const buffer = batch.length === 1 ? batch[0]!.entry : Buffer.concat(batch.map((item) => item.entry));
    let written = 0;
    while (written < buffer.length) {
      const { bytesWritten } = await handle.write(buffer, written, buffer.length - written, this.activeSize + written);
      written += bytesWritten;
    }
    await handle.datasync();
    let offset = this.activeSize;
    for (const item of batch) {
      const length = item.entry.length - ENTRY_HEADER_BYTES;
      const location: EntryLocation = { segment: this.activeSegment, offset, length, records: item.records };
      if (item.landed) location.landed = item.landed;
      this.queue.push(location);
      offset += item.entry.length;
      this.reservedBytes -= item.entry.length;
      this.pendingBytes += item.entry.length;
      this.pendingRecords += item.records;
    }
    this.activeSize = offset;
  }

  private async rollSegment(): Promise<void> {
    // Forget the old handle before anything can fail: a closed handle kept as active made every
    // later append fail (EBADF) until a restart when the next open failed once.
    const previous = this.activeHandle;
    this.activeHandle = null;
    if (previous) await previous.close();
    this.activeSegment++;
    this.activeSize = 0;
    this.activeHandle = await fsp.open(this.segmentPath(this.activeSegment), 'wx');
    // The new file's directory entry must be durable too, or an fsynced entry could vanish with it.
    const dir = await fsp.open(this.options.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  private async readPayload(location: EntryLocation): Promise<Buffer> {
    let handle = this.readHandles.get(location.segment);
    if (!handle) {
      handle = await fsp.open(this.segmentPath(location.segment), 'r');
      this.readHandles.set(location.segment, handle);
    }
    const payload = Buffer.allocUnsafe(location.length);
    let read = 0;
    while (read < location.length) {
      const { bytesRead } = await handle.read(payload, read, location.length - read, location.offset + ENTRY_HEADER_BYTES + read);
      if (bytesRead === 0) throw new Error(`spool segment ${location.segment} ended early`);
      read += bytesRead;
    }
    return payload;
  }

  private segmentPath(segment: number): string {
    return path.join(this.options.dir, `segment-${String(segment).padStart(12, '0')}.spool`);
  }

  private async segmentNumbers(): Promise<number[]> {
    const out: number[] = [];
    for (const name of await fsp.readdir(this.options.dir)) {
      const match = SEGMENT_RE.exec(name);
      if (match) out.push(Number(match[1]));
    }
    return out.sort((a, b) => a - b);
  }

  private async deleteSegment(segment: number): Promise<void> {
    const handle = this.readHandles.get(segment);
    if (handle) {
      this.readHandles.delete(segment);
      await handle.close();
    }
    await fsp.rm(this.segmentPath(segment), { force: true });
  }

  private async recover(): Promise<void> {
    let cursor = { segment: 0, offset: 0 };
    try {
      cursor = JSON.parse(await fsp.readFile(path.join(this.options.dir, CURSOR_FILE), 'utf8')) as typeof cursor;
    } catch {
      // No cursor yet: nothing was drained.
    }
    const segments = await this.segmentNumbers();
    const magic = Buffer.alloc(4);
    magic.writeUInt32BE(ENTRY_MAGIC);
    for (const segment of segments) {
      this.activeSegment = Math.max(this.activeSegment, segment);
      if (segment < cursor.segment) {
        await this.deleteSegment(segment);
        continue;
      }
      const buf = fs.readFileSync(this.segmentPath(segment));
      let pos = 0;
      let kept = 0;
      while (pos < buf.length) {
        const length = validEntryAt(buf, pos);
        if (length < 0) {
          // Torn write at the tail or a damaged entry: resume at the next entry that validates.
          this.recovery.corruptEntries++;
          let next = buf.indexOf(magic, pos + 1);
          while (next >= 0 && validEntryAt(buf, next) < 0) next = buf.indexOf(magic, next + 1);
          const resumeAt = next < 0 ? buf.length : next;
          this.recovery.skippedBytes += resumeAt - pos;
          this.options.logger?.warn({ segment, offset: pos, skippedBytes: resumeAt - pos }, 'disk spool: skipped a corrupt or torn entry');
          pos = resumeAt;
          continue;
        }
        if (segment > cursor.segment || pos >= cursor.offset) {
          const records = buf.readUInt32BE(pos + ENTRY_HEADER_BYTES);
          this.queue.push({ segment, offset: pos, length, records });
          this.pendingBytes += ENTRY_HEADER_BYTES + length;
          this.pendingRecords += records;
          this.recovery.entries++;
          this.recovery.records += records;
          kept++;
        }
        pos += ENTRY_HEADER_BYTES + length;
      }
      if (kept === 0) await this.deleteSegment(segment);
    }
    if (this.recovery.entries > 0 || this.recovery.corruptEntries > 0) {
      this.options.logger?.info({ ...this.recovery, dir: this.options.dir }, 'disk spool recovered');
    }
  }
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogRecord, ProducerRecord } from '../../log/Log.js';

/** A fresh temp dir per test; removeAll() in afterEach cleans every one. */
export class TempDirs {
  private readonly dirs: string[] = [];

  make(prefix = 'streamline-state-'): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  removeAll(): void {
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** A changelog partition in memory: appends produced records and assigns offsets like a log. */
export class MemoryChangelog {
  readonly records: LogRecord[] = [];

  append(produced: ProducerRecord[]): number {
    for (const record of produced) {
      this.records.push({
        topic: record.topic,
        partition: record.partition ?? 0,
        offset: this.records.length,
        key: record.key,
        value: record.value,
        headers: record.headers ?? {},
        timestamp: record.timestamp ?? Date.now(),
      });
    }
    return this.endOffset;
  }

  get endOffset(): number {
    return this.records.length;
  }

  read(fromOffset: number, maxRecords: number): LogRecord[] {
    return this.records.slice(fromOffset, fromOffset + maxRecords);
  }
}

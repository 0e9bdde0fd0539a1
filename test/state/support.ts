import type { LogRecord, ProducerRecord } from '../../log/Log.js';

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
